// WebSockets handed over to the new version (a program that calls
// adoptWebSockets): six `ws` clients at 50 messages a second and one sending
// as fast as it can keep their connections through a commit and a rollback —
// no close, no error — and every message is processed exactly once, in order
// (those sent during the pause by the new version), under the client's own
// name carried as per-connection data.
import t from 'tap'
import WebSocket from 'ws'
import { dsu, fixture, getJson, runSupervised } from './harness.js'

const CLIENTS = 6
const INTERVAL_MS = 20

interface Client {
  name: string
  ws: WebSocket
  sent: number
  acks: Array<{ n: number; name: string; version: string }>
  sentAt: Map<number, number>
  longestAck: number
  closes: number[]
  errors: string[]
  stop(): void
}

function connect(port: number, name: string, ackWaiters: Array<() => void>, flood = false): Promise<Client> {
  // Compression offered, every message compressed when the server agrees (threshold 0).
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?name=${name}`, { perMessageDeflate: { threshold: 0 } })
  let running = true
  const client: Client = { name, ws, sent: 0, acks: [], sentAt: new Map(), longestAck: 0, closes: [], errors: [], stop: () => { running = false } }
  ws.on('close', (code) => client.closes.push(code))
  ws.on('error', (error) => client.errors.push(String(error)))
  ws.on('message', (data) => {
    const [, message, ackName, version] = String(data).split(' ')
    const n = Number(message!.split(':')[1])
    client.acks.push({ n, name: ackName!, version: version! })
    client.longestAck = Math.max(client.longestAck, performance.now() - (client.sentAt.get(n) ?? Infinity))
    for (const w of ackWaiters.splice(0)) w()
  })
  const sendNext = (then: () => void): void => {
    const n = ++client.sent
    client.sentAt.set(n, performance.now())
    ws.send(`${name}:${n}`, (error) => (error ? client.errors.push(String(error)) : then()))
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      if (flood) {
        const next = (): void => { if (running && ws.readyState === WebSocket.OPEN) sendNext(() => setImmediate(next)) }
        next()
      } else {
        const timer = setInterval(() => {
          if (!running || ws.readyState !== WebSocket.OPEN) return clearInterval(timer)
          sendNext(() => {})
        }, INTERVAL_MS)
      }
      resolve(client)
    })
    ws.once('error', reject)
  })
}

for (const outcome of ['committed', 'rolled-back'] as const) {
  t.test(`${CLIENTS + 1} WebSockets kept through ${outcome === 'committed' ? 'a commit' : 'a rollback'}, no message lost or repeated`, async (t) => {
    const sup = await runSupervised(fixture('ws-adopt.js'), ['--version-label', '1.0.0'])
    const ackWaiters: Array<() => void> = []
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(sup.port, `c${i}`, ackWaiters)))
    clients.push(await connect(sup.port, 'flood', ackWaiters, true))
    t.teardown(async () => {
      for (const c of clients) c.ws.terminate()
      await sup.stop()
    })
    const acked = (check: (c: Client) => boolean): Promise<void> => (async () => {
      while (!clients.every(check)) await new Promise<void>((resolve) => ackWaiters.push(resolve))
    })()
    await acked((c) => c.acks.length >= 10)

    const args = outcome === 'committed' ? [] : ['--transformer', fixture('throwing-transform.js')]
    const up = await dsu(['upgrade', '--to', fixture('ws-adopt.js'), '--version-label', '2.0.0', ...args, '--state-dir', sup.stateDir, '--json'])
    const result = JSON.parse(up.stdout)
    t.equal(result.outcome, outcome, `the upgrade ${outcome}: ${up.stderr}`)
    const version = outcome === 'committed' ? '2.0.0' : '1.0.0'

    // Traffic goes on over the same connections, then stops; every message gets its ack.
    const mark = clients.map((c) => c.acks.length)
    await acked((c) => c.acks.length >= mark[clients.indexOf(c)]! + 10)
    for (const c of clients) c.stop()
    await acked((c) => c.acks.length >= c.sent)

    t.same(clients.flatMap((c) => c.closes), [], 'no WebSocket was closed')
    t.same(clients.flatMap((c) => c.errors), [], 'no client saw an error')
    const inOrder = clients.filter((c) => c.acks.some((a, i) => a.n !== i + 1))
    t.same(inOrder.map((c) => c.name), [], 'each client got one acknowledgement per message, in order')
    t.same(clients.filter((c) => c.acks.some((a) => a.name !== c.name)).map((c) => c.name), [], 'each connection kept its per-connection data (the name)')
    t.same(clients.map((c) => c.acks.at(-1)!.version), clients.map(() => version), `the last messages were processed by ${version}`)
    // Each client's messages: the old version's first, then the new version's, never back.
    const switches = clients.map((c) => c.acks.filter((a, i) => i > 0 && a.version !== c.acks[i - 1]!.version).length)
    t.same(switches, clients.map(() => (outcome === 'committed' ? 1 : 0)),
      outcome === 'committed' ? 'one switch of version per connection, at the commit' : 'no switch of version')
    const { version: serving, last, anomalies } = await getJson(sup.port, '/received') as { version: string; last: Record<string, number>; anomalies: string[] }
    t.equal(serving, version, `${version} serves`)
    t.same(last, Object.fromEntries(clients.map((c) => [c.name, c.sent])), `${version}'s state holds every message`)
    t.same(anomalies, [], 'none lost, repeated or out of order in the state')
    const longestAck = Math.max(...clients.filter((c) => c.name !== 'flood').map((c) => c.longestAck))
    const total = clients.reduce((n, c) => n + c.sent, 0)
    t.comment(`${outcome}: pause ${result.pauseMs?.toFixed(1)} ms (quiesce ${result.phases?.quiesce?.toFixed(1)} ms), ` +
      `${result.connectionsMoved} connections moved, ${total} messages, longest acknowledgement at 50/s ${longestAck.toFixed(1)} ms`)
  })
}

t.test('permessage-deflate: dsu negotiates no context takeover, and the compressed WebSocket moves', async (t) => {
  const sup = await runSupervised(fixture('ws-adopt.js'), ['--version-label', '1.0.0'], { DSU_TEST_DEFLATE: '1' })
  const ackWaiters: Array<() => void> = []
  const clients = await Promise.all(Array.from({ length: 3 }, (_, i) => connect(sup.port, `z${i}`, ackWaiters)))
  t.teardown(async () => {
    for (const c of clients) c.ws.terminate()
    await sup.stop()
  })
  const params = (c: Client): Record<string, unknown> => (c.ws as unknown as { _extensions: Record<string, { params: Record<string, unknown> }> })._extensions['permessage-deflate']!.params
  t.same(clients.map((c) => c.ws.extensions), clients.map(() => 'permessage-deflate'), 'compression negotiated')
  t.same(clients.map((c) => [params(c).server_no_context_takeover, params(c).client_no_context_takeover]), clients.map(() => [true, true]),
    'with no context takeover both ways')
  const acked = async (check: (c: Client) => boolean): Promise<void> => {
    while (!clients.every(check)) await new Promise<void>((resolve) => ackWaiters.push(resolve))
  }
  await acked((c) => c.acks.length >= 10)
  for (const outcome of ['rolled-back', 'committed'] as const) {
    const args = outcome === 'committed' ? [] : ['--transformer', fixture('throwing-transform.js')]
    const up = await dsu(['upgrade', '--to', fixture('ws-adopt.js'), '--version-label', '2.0.0', ...args, '--state-dir', sup.stateDir, '--json'])
    t.equal(JSON.parse(up.stdout).outcome, outcome, `the upgrade ${outcome}: ${up.stderr}`)
    const mark = clients.map((c) => c.acks.length)
    await acked((c) => c.acks.length >= mark[clients.indexOf(c)]! + 10)
  }
  for (const c of clients) c.stop()
  await acked((c) => c.acks.length >= c.sent)
  t.same(clients.flatMap((c) => c.closes), [], 'no WebSocket was closed')
  t.same(clients.flatMap((c) => c.errors), [], 'no client saw an error (every compressed frame decoded on both sides)')
  t.same(clients.filter((c) => c.acks.some((a, i) => a.n !== i + 1)).map((c) => c.name), [], 'one acknowledgement per message, in order')
  t.same(clients.map((c) => c.acks.at(-1)!.version), clients.map(() => '2.0.0'), 'the last messages were processed by 2.0.0')
  const { last, anomalies } = await getJson(sup.port, '/received') as { last: Record<string, number>; anomalies: string[] }
  t.same(last, Object.fromEntries(clients.map((c) => [c.name, c.sent])), 'the new version\'s state holds every message')
  t.same(anomalies, [], 'none lost, repeated or out of order in the state')
})

t.test('a WebSocket that keeps a compression context cannot move: 1012, and no message lost', async (t) => {
  const sup = await runSupervised(fixture('ws-adopt.js'), ['--version-label', '1.0.0'], { DSU_TEST_DEFLATE: 'takeover' })
  const ackWaiters: Array<() => void> = []
  const client = await connect(sup.port, 'z', ackWaiters)
  t.teardown(async () => {
    client.ws.terminate()
    await sup.stop()
  })
  t.equal(client.ws.extensions, 'permessage-deflate', 'compression negotiated')
  while (client.acks.length < 10) await new Promise<void>((resolve) => ackWaiters.push(resolve))
  const closed = new Promise<number>((resolve) => client.ws.once('close', resolve))
  const up = await dsu(['upgrade', '--to', fixture('ws-adopt.js'), '--version-label', '2.0.0', '--state-dir', sup.stateDir, '--json'])
  t.equal(JSON.parse(up.stdout).outcome, 'committed')
  t.equal(await closed, 1012, 'closed with 1012 Service Restart')
  // A send refused once the client saw the close counts as not sent.
  const refused = client.errors.filter((e) => /not open/.test(e)).length
  t.same(client.errors.filter((e) => !/not open/.test(e)), [], 'no other error')
  const { last, anomalies } = await getJson(sup.port, '/received') as { last: Record<string, number>; anomalies: string[] }
  t.equal(last.z, client.sent - refused, 'every message sent before the close is in the new version\'s state')
  t.same(anomalies, [], 'none lost, repeated or out of order in the state')
})
