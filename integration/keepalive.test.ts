// Guarantee 4 across a long pause: idle keep-alive connections outlive a pause
// of twice the server's keepAliveTimeout, then a rollback or a commit. The
// clients are http.Agent pools with keep-alive; the pause is held open by a
// transformer that waits for the old version to say that twice the timeout
// has passed (fixtures/keepalive.js, transforms/wait-for-flag.js).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import http from 'node:http'
import type net from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { dsu, fileExists, fixture, runSupervised } from './harness.js'

const KEEP_ALIVE_MS = 1000
const POOL = 4

interface Reply { version: string; pid: number; localPort: number; socket: net.Socket }

function get(agent: http.Agent, port: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ ...JSON.parse(body), localPort: req.socket!.localPort!, socket: req.socket! }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

// Keeps idle connections for as long as the server does: Node's own Agent
// drops a connection a second before the server's Keep-Alive hint (and never
// keeps one for a 1 s hint), which would hide the server's timer. Proxies'
// pools and most other clients do not read the hint.
class PatientAgent extends http.Agent {
  override keepSocketAlive(socket: net.Socket): boolean {
    socket.setKeepAlive(true, 1000)
    socket.unref()
    socket.setTimeout(0)
    return true
  }
}

const all = (agent: http.Agent, port: number): Promise<Reply[]> => Promise.all(Array.from({ length: POOL }, () => get(agent, port)))

for (const outcome of ['rolled-back', 'committed'] as const) {
  t.test(`idle keep-alive connections outlive a long pause, then ${outcome === 'committed' ? 'a commit' : 'a rollback'}`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-keepalive-'))
    const flag = path.join(dir, 'paused-long-enough')
    const gate = path.join(dir, 'boot')
    const sup = await runSupervised(fixture('keepalive.js'), ['--version-label', '1.0.0'], {
      DSU_TEST_KEEPALIVE_MS: String(KEEP_ALIVE_MS),
      DSU_TEST_FLAG: flag,
      DSU_TEST_GATE: gate,
      DSU_TEST_TRANSFORM: outcome === 'committed' ? 'pass' : 'throw',
    })
    const pool = new PatientAgent({ keepAlive: true, maxSockets: POOL })
    // One more connection, left idle across the upgrade and never used again.
    const spare = new PatientAgent({ keepAlive: true, maxSockets: 1 })
    t.teardown(async () => {
      pool.destroy()
      spare.destroy()
      await sup.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    const upgrading = dsu(['upgrade', '--to', fixture('keepalive.js'), '--transformer', fixture('transforms/wait-for-flag.js'),
      '--version-label', '2.0.0', '--state-dir', sup.stateDir, '--json'])
    // The new version's boot can take longer than the keep-alive timeout: the
    // connections are opened while it waits at its gate, right before the
    // pause, so only the pause can outlast the timeout.
    await fileExists(`${gate}.waiting`)
    const first = await all(pool, sup.port)
    const idle = (await get(spare, sup.port)).socket
    const sockets = new Set([...first.map((r) => r.socket), idle])
    t.equal(sockets.size, POOL + 1, `${POOL + 1} keep-alive connections open`)
    const closedEarly: string[] = []
    for (const socket of sockets) socket.once('close', (hadError) => closedEarly.push(`${socket.localPort}${hadError ? ' (error)' : ''}`))
    fs.writeFileSync(gate, '')
    await fileExists(flag)
    t.same(closedEarly, [], `no connection closed in a pause of ${2 * KEEP_ALIVE_MS} ms (keepAliveTimeout ${KEEP_ALIVE_MS} ms)`)

    // Sent while the old version may still be paused: they wait in the kernel
    // and are answered after the outcome, on the same connections.
    const second = await all(pool, sup.port)
    const result = JSON.parse((await upgrading).stdout)
    t.equal(result.outcome, outcome, `the upgrade ${outcome}`)
    t.ok(result.pauseMs >= 2 * KEEP_ALIVE_MS, `the pause (${Math.round(result.pauseMs)} ms) outlasted the keep-alive timeout twice`)
    t.same(closedEarly, [], 'no connection closed or reset')
    t.same(second.map((r) => r.localPort).sort(), first.map((r) => r.localPort).sort(), 'the same connections were reused')
    const expected = outcome === 'committed' ? '2.0.0' : '1.0.0'
    t.same([...new Set(second.map((r) => r.version))], [expected], `answered by ${expected}`)

    // The timers run again: idle connections are closed cleanly by the server,
    // the spare one by the new version's fresh keep-alive timer after a commit.
    const closes = await Promise.all([...sockets].map((s) => (s.destroyed ? [false] : once(s, 'close'))))
    t.same(closes.map(([hadError]) => hadError), [...sockets].map(() => false), 'every idle connection is later closed cleanly by its keep-alive timeout')
  })
}
