// WebSockets through an upgrade, for a program that does not opt in: every
// client (the `ws` package) gets a real close frame, 1012 Service Restart —
// never 1006 — and every message it sent before that close was processed by
// the version whose state carries on: none lost, none twice. Six clients send
// 50 messages a second each through the upgrade, and a seventh as fast as it can.
import net from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { dsu, fixture, getJson, runSupervised } from './harness.js'

const CLIENTS = 6
const INTERVAL_MS = 20 // 50 messages a second each

interface Client {
  name: string
  ws: WebSocket
  /** Messages ws wrote to the socket (send callback without error). */
  sent: string[]
  /** Messages refused because the connection was already closing. */
  refused: number
  acked: Set<string>
  sentAt: Map<string, number>
  /** Longest time from send() to its acknowledgement. */
  longestAck: number
  errors: string[]
  closed: Promise<{ code: number; reason: string }>
}

/** `flood`: send the next message once ws has written the last one, not at 50/s. */
function connect(port: number, name: string, ackWaiters: Array<() => void>, flood = false): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`)
  const client: Client = { name, ws, sent: [], refused: 0, acked: new Set(), sentAt: new Map(), longestAck: 0, errors: [], closed: null as never }
  client.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })))
  ws.on('error', (error) => client.errors.push(String(error)))
  ws.on('message', (data) => {
    const message = String(data).replace(/^ack /, '')
    client.acked.add(message)
    client.longestAck = Math.max(client.longestAck, performance.now() - (client.sentAt.get(message) ?? Infinity))
    for (const w of ackWaiters.splice(0)) w()
  })
  let n = 0
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      if (flood) {
        const next = (): void => {
          if (ws.readyState !== WebSocket.OPEN) return
          const message = `${name}:${++n}`
          ws.send(message, (error) => {
            if (error) return void client.refused++
            client.sent.push(message)
            setImmediate(next) // a write callback can come in the same tick: let I/O run

          })
        }
        next()
        return resolve(client)
      }
      const timer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return clearInterval(timer)
        const message = `${name}:${++n}`
        client.sentAt.set(message, performance.now())
        ws.send(message, (error) => (error ? client.refused++ : client.sent.push(message)))
      }, INTERVAL_MS)
      resolve(client)
    })
    ws.once('error', reject)
  })
}

for (const outcome of ['committed', 'rolled-back'] as const) {
  t.test(`${CLIENTS + 1} WebSocket clients sending through ${outcome === 'committed' ? 'a commit' : 'a rollback'} get 1012 and lose no message`, async (t) => {
    const sup = await runSupervised(fixture('ws-chat.js'), ['--version-label', '1.0.0'])
    const ackWaiters: Array<() => void> = []
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(sup.port, `c${i}`, ackWaiters)))
    // And one that never stops sending: its frames are still arriving when the close frame goes out.
    clients.push(await connect(sup.port, 'flood', ackWaiters, true))
    t.teardown(async () => {
      for (const c of clients) c.ws.terminate()
      await sup.stop()
    })
    // Traffic flows both ways before the upgrade.
    while (clients.some((c) => c.acked.size < 10)) await new Promise<void>((resolve) => ackWaiters.push(resolve))

    const args = outcome === 'committed' ? [] : ['--transformer', fixture('throwing-transform.js')]
    const up = await dsu(['upgrade', '--to', fixture('ws-chat.js'), '--version-label', '2.0.0', ...args, '--state-dir', sup.stateDir, '--json'])
    const result = JSON.parse(up.stdout)
    t.equal(result.outcome, outcome, `the upgrade ${outcome}: ${up.stderr}`)

    const closes = await Promise.all(clients.map((c) => c.closed))
    t.same(closes, clients.map(() => ({ code: 1012, reason: 'Service Restart' })), 'every client got a close frame 1012 Service Restart')
    t.same(clients.flatMap((c) => c.errors), [], 'no client saw an error')

    const version = outcome === 'committed' ? '2.0.0' : '1.0.0'
    const { version: serving, last, anomalies } = await getJson(sup.port, '/received') as { version: string; last: Record<string, number>; anomalies: string[] }
    t.equal(serving, version, `${version} serves`)
    // ws writes one client's messages in order, so those sent before the close are 1..k.
    const sent = Object.fromEntries(clients.map((c) => [c.name, c.sent.length]))
    t.same(last, sent, `every message sent before the close (${Object.values(sent).reduce((a, b) => a + b, 0)} in all) is in ${version}'s state`)
    t.same(anomalies, [], 'none was lost on the way, processed twice or out of order')
    const unacked = clients.reduce((n, c) => n + c.sent.filter((m) => !c.acked.has(m)).length, 0)
    const longestAck = Math.max(...clients.filter((c) => c.name !== 'flood').map((c) => c.longestAck))
    t.comment(`${outcome}: pause ${result.pauseMs?.toFixed(1)} ms (quiesce ${result.phases?.quiesce?.toFixed(1)} ms), ` +
      `longest acknowledgement at 50/s ${longestAck.toFixed(1)} ms, ` +
      `${unacked} processed after the close frame went out (so not acknowledged), ${clients.reduce((n, c) => n + c.refused, 0)} refused by the clients once closing`)

    // The clients reconnect, and the version now serving answers.
    const again = await connect(sup.port, 'again', ackWaiters)
    while (again.acked.size < 1) await new Promise<void>((resolve) => ackWaiters.push(resolve))
    again.ws.close(1000)
    t.same((await again.closed).code, 1000, 'a reconnected client is served and closes normally')
  })
}

t.test('a checkpoint only freezes WebSockets; a graceful stop closes them with 1001 Going Away', async (t) => {
  const sup = await runSupervised(fixture('ws-chat.js'), ['--version-label', '1.0.0'])
  const ackWaiters: Array<() => void> = []
  const clients = await Promise.all(Array.from({ length: 3 }, (_, i) => connect(sup.port, `k${i}`, ackWaiters)))
  t.teardown(async () => {
    for (const c of clients) c.ws.terminate()
    await sup.stop()
  })
  const acks = (n: number): Promise<void> => (async () => {
    const target = clients.map((c) => c.acked.size + n)
    while (clients.some((c, i) => c.acked.size < target[i]!)) await new Promise<void>((resolve) => ackWaiters.push(resolve))
  })()
  await acks(5)
  const checkpoint = await dsu(['checkpoint', '--state-dir', sup.stateDir, '--json'])
  t.equal(checkpoint.exitCode, 0, `checkpoint taken: ${checkpoint.stderr}`)
  await acks(5)
  t.same(clients.map((c) => c.ws.readyState), clients.map(() => WebSocket.OPEN), 'every WebSocket stayed open through the checkpoint')

  await sup.stop()
  const closes = await Promise.all(clients.map((c) => c.closed))
  t.same(closes.map((c) => c.code), clients.map(() => 1001), 'dsu stop closes each WebSocket with 1001 Going Away')
  t.same(clients.flatMap((c) => c.errors), [], 'no client saw an error')
})

t.test('a client that never answers the close frame holds quiescence to its deadline: rollback, named', async (t) => {
  const sup = await runSupervised(fixture('ws-chat.js'), ['--version-label', '1.0.0'])
  // A raw client: completes the handshake, then never reads a frame or answers one.
  const socket = net.connect(sup.port, '127.0.0.1')
  t.teardown(async () => {
    socket.destroy()
    await sup.stop()
  })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  const [head] = await once(socket, 'data') as [Buffer]
  t.match(String(head), /^HTTP\/1\.1 101/, 'handshake done')
  const up = await dsu(['upgrade', '--to', fixture('ws-chat.js'), '--version-label', '2.0.0', '--timeout', '3000', '--state-dir', sup.stateDir, '--json'])
  const result = JSON.parse(up.stdout)
  t.equal(result.outcome, 'rolled-back')
  t.equal(result.error.code, 'DSU_ERR_QUIESCE_TIMEOUT')
  t.match(result.error.message, /1 WebSocket sent a 1012 close frame whose client did not answer/, 'the message names what it waited for')
  t.equal((await getJson(sup.port, '/received')).version, '1.0.0', 'the old version keeps serving')
})
