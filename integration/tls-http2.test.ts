// TLS and HTTP/2 across an upgrade and a rollback (issue 9 item 6), with a
// self-signed certificate made for the test by openssl, real clients under
// load (Node's https Agent with keep-alive; node:http2 sessions) and the
// counter of fixtures/secure.js. TLS state cannot move between processes, so
// at quiesce the old version ends its connections cleanly — an idle HTTPS
// connection with close_notify then FIN, a busy one after its response with
// `Connection: close`, an HTTP/2 session with GOAWAY after its open streams —
// and clients reconnect. Asserted: 0 failed requests or streams, 0 resets, a
// connection left idle closes cleanly, and every request is counted exactly
// once (the server's counter equals the clients' successes).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import https from 'node:https'
import http2 from 'node:http2'
import type tls from 'node:tls'
import { execa } from 'execa'
import t from 'tap'
import { dsu, fixture, getJson, runSupervised, type Supervised } from './harness.js'

const CLIENTS = 6

async function certificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])
  return { cert, key }
}

interface Load {
  ok(): number
  reach(n: number): Promise<void>
  stop(): Promise<void>
  failed: string[]
  versions: Set<string>
  /** Connections (HTTPS) or sessions (HTTP/2) the clients opened. */
  opened(): number
}

function loadLoop(request: () => Promise<{ version: string }>): Omit<Load, 'opened'> {
  let ok = 0
  let stopped = false
  const failed: string[] = []
  const versions = new Set<string>()
  const marks: Array<{ n: number; resolve: () => void }> = []
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (!stopped) {
      try {
        versions.add((await request()).version)
        ok++
        for (const m of marks) if (ok >= m.n) m.resolve()
      } catch (error) {
        failed.push(`${(error as NodeJS.ErrnoException).code ?? ''} ${(error as Error).message}`.trim())
        if (failed.length > 20) stopped = true
      }
    }
  })
  return {
    ok: () => ok,
    reach: (n) => new Promise((resolve, reject) => {
      if (ok >= n) return resolve()
      marks.push({ n, resolve })
      // A load that stopped on failures never reaches n: say so instead of hanging.
      void Promise.all(loops).then(() => reject(new Error(`the load stopped: ${failed.join(', ')}`)))
    }),
    stop: async () => {
      stopped = true
      await Promise.all(loops)
    },
    failed,
    versions,
  }
}

function httpsLoad(port: number, ca: Buffer, retried: string[]): Load {
  const agent = new https.Agent({ keepAlive: true, maxSockets: CLIENTS, ca })
  let opened = 0
  const counted = new WeakSet<object>()
  // A keep-alive client must retry a request whose reused connection the
  // server closed as it was sent (Node's docs: req.reusedSocket); dsu never
  // processes such a request, so the retry is safe. Counted, not hidden.
  const get = (): Promise<{ version: string }> => new Promise<{ version: string }>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/hit', agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`status ${res.statusCode}`))))
      res.on('error', reject)
    })
    req.on('socket', (socket) => {
      if (counted.has(socket)) return
      counted.add(socket)
      opened++
    })
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket && error.code === 'ECONNRESET') reject(Object.assign(error, { retry: true }))
      else reject(error)
    })
  })
  // The retry may land on another pooled connection that is being closed too.
  const attempt = (left: number): Promise<{ version: string }> => get().catch((error: Error & { retry?: boolean }) => {
    if (!error.retry || left === 0) throw error
    retried.push(error.message)
    return attempt(left - 1)
  })
  const load = loadLoop(() => attempt(CLIENTS))
  return { ...load, opened: () => opened, stop: async () => { await load.stop(); agent.destroy() } }
}

function http2Load(port: number, ca: Buffer, sessionErrors: string[], retried: string[]): Load {
  let opened = 0
  const all: http2.ClientHttp2Session[] = []
  const connect = (): http2.ClientHttp2Session => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca })
    opened++
    all.push(session)
    session.on('error', (error: NodeJS.ErrnoException) => sessionErrors.push(error.code ?? String(error)))
    // GOAWAY: Node's client closes this session after its open streams; new ones go to a new session.
    session.once('goaway', () => {
      if (current === session) current = connect()
    })
    return session
  }
  let current = connect()
  // A stream the client requested just as the GOAWAY arrived is refused by
  // its own nghttp2 before it is sent (REFUSED_STREAM: not processed, RFC
  // 9113 §8.7 says a client can safely retry it). Counted, not hidden.
  const get = (): Promise<{ version: string }> => request().catch((error: Error & { refused?: boolean }) => {
    if (!error.refused) throw error
    retried.push(error.message)
    return request()
  })
  const request = (): Promise<{ version: string }> => new Promise((resolve, reject) => {
    if (current.closed || current.destroyed) current = connect()
    const stream = current.request({ ':path': '/hit' })
    let body = ''
    let status = 0
    stream.setEncoding('utf8')
    stream.on('response', (headers) => (status = Number(headers[':status'])))
    stream.on('data', (chunk: string) => (body += chunk))
    stream.on('end', () => (status === 200 ? resolve(JSON.parse(body)) : reject(new Error(`status ${status}`))))
    stream.on('error', (error) => reject(Object.assign(error, { refused: stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM })))
  })
  const load = loadLoop(get)
  return { ...load, opened: () => opened, stop: async () => { await load.stop(); for (const s of all) s.close() } }
}

/** An HTTPS connection opened and then left idle: how it ended. */
async function idleConnection(port: number, ca: Buffer): Promise<Promise<{ hadError: boolean; errors: string[] }>> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca })
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(req.socket as tls.TLSSocket))
    })
    req.on('error', reject)
  })
  const errors: string[] = []
  socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? String(error)))
  return new Promise((resolve) => socket.once('close', (hadError: boolean) => {
    agent.destroy()
    resolve({ hadError, errors })
  }))
}

async function upgrade(sup: Supervised, label: string, transformer?: string): Promise<{ outcome: string; pauseMs: number; phases: Record<string, number> }> {
  const r = await dsu(['upgrade', '--to', fixture('secure.js'), ...(transformer ? ['--transformer', fixture(transformer)] : []),
    '--version-label', label, '--state-dir', sup.stateDir, '--json'])
  return JSON.parse(r.stdout)
}

for (const proto of ['https', 'h2'] as const) {
  t.test(`${proto === 'h2' ? 'HTTP/2' : 'HTTPS'} clients under load see no failure across an upgrade and a rollback`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-tls-'))
    const { cert, key } = await certificate(dir)
    const ca = fs.readFileSync(cert)
    const sup = await runSupervised(fixture('secure.js'), ['--version-label', '1.0.0'], { DSU_TEST_PROTO: proto, DSU_TEST_CERT: cert, DSU_TEST_KEY: key })
    const sessionErrors: string[] = []
    const retried: string[] = []
    let load: Load | null = null
    t.teardown(async () => {
      await load?.stop()
      await sup.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    })
    const port = Number((await sup.waitForOutput(new RegExp(`secure ${proto} on port (\\d+)`)))[1])
    load = proto === 'h2' ? http2Load(port, ca, sessionErrors, retried) : httpsLoad(port, ca, retried)
    await load.reach(100)

    const idle1 = proto === 'https' ? await idleConnection(port, ca) : null
    const opened = load.opened()
    const committed = await upgrade(sup, '2.0.0')
    t.equal(committed.outcome, 'committed', 'the upgrade committed')
    t.comment(`pause ${committed.pauseMs.toFixed(1)} ms, quiesce ${committed.phases.quiesce?.toFixed(1)} ms`)
    await load.reach(load.ok() + 100)
    t.ok(load.versions.has('2.0.0'), 'v2 serves the clients after commit')
    t.ok(load.opened() > opened, `the clients reconnected (${load.opened() - opened} new ${proto === 'h2' ? 'sessions' : 'connections'})`)
    if (idle1) t.same(await idle1, { hadError: false, errors: [] }, 'an idle connection was closed cleanly at the upgrade')

    const idle2 = proto === 'https' ? await idleConnection(port, ca) : null
    t.equal((await upgrade(sup, '3.0.0', 'throwing-transform.js')).outcome, 'rolled-back', 'the second upgrade rolled back')
    const v2 = (await getJson(sup.port, '/')).version
    await load.reach(load.ok() + 100)
    t.equal(v2, '2.0.0', 'v2 keeps serving new connections after the rollback')
    if (idle2) t.same(await idle2, { hadError: false, errors: [] }, 'an idle connection was closed cleanly at the rolled-back upgrade')

    await load.stop()
    if (load.failed.length > 0) t.comment(load.failed.join('\n'))
    t.same(load.failed, [], `0 failed ${proto === 'h2' ? 'streams' : 'requests'} of ${load.ok()}`)
    t.same(sessionErrors, [], '0 session errors (no reset)')
    t.comment(proto === 'h2'
      ? `${retried.length} stream(s) retried: refused (REFUSED_STREAM) as the GOAWAY arrived, not processed by the server`
      : `${retried.length} request(s) retried: sent on an idle connection just as it was closed (not processed by the server)`)
    t.same([...load.versions].sort(), ['1.0.0', '2.0.0'], 'answered by v1, then v2')
    t.equal((await getJson(sup.port, '/')).hits, load.ok(), 'every successful request was counted exactly once')
  })
}
