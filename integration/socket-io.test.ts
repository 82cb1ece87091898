// socket.io across an upgrade with carrySocketIo(io): six socket.io-client
// clients, each emitting 50 messages a second with acknowledgements and
// `retries`, in two rooms, keep every emit through a commit and through a
// rollback, over the websocket and the polling transport. Each client
// reconnects (its transport closes) and is recovered: same socket id, its
// room kept, every broadcast it missed replayed. The program's state holds
// every message exactly once; every client gets an acknowledgement for each
// and sees every message of its room exactly once, in order.
import t from 'tap'
import { io, type Socket } from 'socket.io-client'
import { dsu, fixture, getJson, runSupervised } from './harness.js'

const CLIENTS = 6
const INTERVAL_MS = 20

interface Client {
  name: string
  room: string
  socket: Socket
  sent: number
  acked: number
  ackVersions: string[]
  failed: string[]
  firstId: string
  ids: Set<string>
  connects: number
  unrecovered: number
  /** Per sender in the room: the sequence numbers seen, in arrival order. */
  echoes: Map<string, number[]>
  sentAt: Map<number, number>
  longestAck: number
  stop(): void
}

function connect(port: number, name: string, room: string, transport: 'websocket' | 'polling', changed: () => void): Promise<Client> {
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: [transport],
    auth: { name, room },
    ackTimeout: 3000,
    retries: 1000,
    reconnectionDelay: 20,
    reconnectionDelayMax: 100,
  })
  let timer: NodeJS.Timeout | undefined
  const client: Client = {
    name, room, socket, sent: 0, acked: 0, ackVersions: [], failed: [], firstId: '', ids: new Set(), connects: 0,
    unrecovered: 0, echoes: new Map(), sentAt: new Map(), longestAck: 0, stop: () => clearInterval(timer),
  }
  socket.on('echo', (sender: string, n: number) => {
    const list = client.echoes.get(sender) ?? []
    list.push(n)
    client.echoes.set(sender, list)
    changed()
  })
  return new Promise((resolve, reject) => {
    socket.on('connect', () => {
      client.connects++
      client.ids.add(socket.id!)
      if (client.connects === 1) {
        client.firstId = socket.id!
        timer = setInterval(() => {
          const n = ++client.sent
          client.sentAt.set(n, performance.now())
          socket.emit('msg', n, (err: Error | null, reply?: { version: string }) => {
            if (err) client.failed.push(`${n}: ${err.message}`)
            else {
              client.acked++
              client.ackVersions.push(reply!.version)
              client.longestAck = Math.max(client.longestAck, performance.now() - client.sentAt.get(n)!)
            }
            changed()
          })
        }, INTERVAL_MS)
        resolve(client)
      } else if (!socket.recovered) client.unrecovered++
      changed()
    })
    socket.once('connect_error', reject)
  })
}

for (const transport of ['websocket', 'polling'] as const) {
  for (const outcome of ['committed', 'rolled-back'] as const) {
    t.test(`socket.io over ${transport}: ${CLIENTS} clients keep every emit through ${outcome === 'committed' ? 'a commit' : 'a rollback'}`, async (t) => {
      const sup = await runSupervised(fixture('socketio-chat.js'), ['--version-label', '1.0.0'])
      const waiters: Array<() => void> = []
      const changed = (): void => { for (const w of waiters.splice(0)) w() }
      const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) =>
        connect(sup.port, `c${i}`, i % 2 === 0 ? 'even' : 'odd', transport, changed)))
      t.teardown(async () => {
        for (const c of clients) c.socket.disconnect()
        await sup.stop()
      })
      const until = async (check: (c: Client) => boolean): Promise<void> => {
        while (!clients.every(check)) await new Promise<void>((resolve) => waiters.push(resolve))
      }
      await until((c) => c.acked >= 10)

      const args = outcome === 'committed' ? [] : ['--transformer', fixture('throwing-transform.js')]
      const up = await dsu(['upgrade', '--to', fixture('socketio-chat.js'), '--version-label', '2.0.0', ...args, '--state-dir', sup.stateDir, '--json'])
      const result = JSON.parse(up.stdout)
      t.equal(result.outcome, outcome, `the upgrade ${outcome}: ${up.stderr}`)
      const version = outcome === 'committed' ? '2.0.0' : '1.0.0'

      // Traffic goes on, then stops; every emit gets its acknowledgement.
      const mark = clients.map((c) => c.acked)
      await until((c) => c.acked >= mark[clients.indexOf(c)]! + 10)
      for (const c of clients) c.stop()
      await until((c) => c.acked + c.failed.length >= c.sent)
      // Every client has seen the last message of each peer in its room.
      const peers = (c: Client): Client[] => clients.filter((p) => p.room === c.room)
      await until((c) => peers(c).every((p) => (c.echoes.get(p.name)?.at(-1) ?? 0) >= p.sent))

      t.same(clients.flatMap((c) => c.failed), [], 'no emit failed (0 lost from the clients\' side)')
      t.same(clients.map((c) => c.acked), clients.map((c) => c.sent), 'every emit acknowledged')
      const { version: serving, last, repeats, anomalies } = await getJson(sup.port, '/received') as { version: string; last: Record<string, number>; repeats: number; anomalies: string[] }
      t.equal(serving, version, `${version} serves`)
      t.same(last, Object.fromEntries(clients.map((c) => [c.name, c.sent])), `${version}'s state holds every emit`)
      t.same(anomalies, [], 'none lost or out of order in the state')
      t.same(clients.map((c) => c.ackVersions.at(-1)), clients.map(() => version), `the last emits were processed by ${version}`)
      const broken = clients.flatMap((c) => peers(c).filter((p) => {
        const seen = c.echoes.get(p.name) ?? []
        return seen.length !== p.sent || seen.some((n, i) => n !== i + 1)
      }).map((p) => `${c.name} ← ${p.name}`))
      t.same(broken, [], 'every client saw every message of its room exactly once, in order (missed broadcasts replayed)')
      const others = clients.flatMap((c) => [...c.echoes.keys()].filter((s) => !peers(c).some((p) => p.name === s)))
      t.same(others, [], 'no client got a message from the other room (rooms kept)')
      t.same(clients.map((c) => c.unrecovered), clients.map(() => 0), 'every reconnect was recovered by connectionStateRecovery')
      t.same(clients.map((c) => [...c.ids]), clients.map((c) => [c.firstId]), 'each client kept its socket id')

      const reconnects = clients.reduce((n, c) => n + c.connects - 1, 0)
      const longestAck = Math.max(...clients.map((c) => c.longestAck))
      const total = clients.reduce((n, c) => n + c.sent, 0)
      t.comment(`${transport}, ${outcome}: pause ${result.pauseMs?.toFixed(1)} ms, ${total} emits, 0 lost, ` +
        `${repeats} sent again by retries (applied once), ${reconnects} reconnects (all recovered), longest acknowledgement ${longestAck.toFixed(0)} ms`)
    })
  }
}

t.test('socket.io: clients recovered through two upgrades in a row (the new version carries the sessions on)', async (t) => {
  const sup = await runSupervised(fixture('socketio-chat.js'), ['--version-label', '1.0.0'])
  const waiters: Array<() => void> = []
  const changed = (): void => { for (const w of waiters.splice(0)) w() }
  const clients = await Promise.all(Array.from({ length: 3 }, (_, i) => connect(sup.port, `d${i}`, 'all', 'websocket', changed)))
  t.teardown(async () => {
    for (const c of clients) c.socket.disconnect()
    await sup.stop()
  })
  const until = async (check: (c: Client) => boolean): Promise<void> => {
    while (!clients.every(check)) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  await until((c) => c.acked >= 10)
  for (const version of ['2.0.0', '3.0.0']) {
    const up = await dsu(['upgrade', '--to', fixture('socketio-chat.js'), '--version-label', version, '--state-dir', sup.stateDir, '--json'])
    t.equal(JSON.parse(up.stdout).outcome, 'committed', `upgraded to ${version}: ${up.stderr}`)
    const mark = clients.map((c) => c.acked)
    await until((c) => c.acked >= mark[clients.indexOf(c)]! + 10 && c.ackVersions.at(-1) === version)
  }
  for (const c of clients) c.stop()
  await until((c) => c.acked + c.failed.length >= c.sent)
  await until((c) => clients.every((p) => (c.echoes.get(p.name)?.at(-1) ?? 0) >= p.sent))
  t.same(clients.flatMap((c) => c.failed), [], 'no emit failed')
  const { last, anomalies } = await getJson(sup.port, '/received') as { last: Record<string, number>; anomalies: string[] }
  t.same(last, Object.fromEntries(clients.map((c) => [c.name, c.sent])), '3.0.0\'s state holds every emit')
  t.same(anomalies, [], 'none lost or out of order in the state')
  t.same(clients.flatMap((c) => clients.filter((p) => {
    const seen = c.echoes.get(p.name) ?? []
    return seen.length !== p.sent || seen.some((n, i) => n !== i + 1)
  }).map((p) => `${c.name} ← ${p.name}`)), [], 'every broadcast seen once, in order')
  t.same(clients.map((c) => [c.unrecovered, c.connects, [...c.ids]]), clients.map((c) => [0, 3, [c.firstId]]),
    'each client reconnected once per upgrade, was recovered each time, and kept its socket id')
})
