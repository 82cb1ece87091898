import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { writeFrame } from './framing.js'
import { encodeRoots, FrameType } from './state-codec.js'
import { receiveState, sendState } from './state-stream.js'

type Test = { teardown(fn: () => unknown): void }

// A connected pair of sockets over a Unix socket path in a fresh temp dir.
async function socketPair(t: Test): Promise<{ sender: net.Socket; receiver: net.Socket }> {
  const dir = await mkdtemp(join(tmpdir(), 'dsu-transfer-'))
  const server = net.createServer()
  server.listen(join(dir, 'state.sock'))
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[net.Socket]>
  const sender = net.connect(join(dir, 'state.sock'))
  await once(sender, 'connect')
  const [receiver] = await accepted
  server.close()
  t.teardown(async () => {
    sender.destroy()
    receiver.destroy()
    await rm(dir, { recursive: true, force: true })
  })
  return { sender, receiver }
}

function accounts(n: number): Map<string, unknown> {
  const m = new Map<string, unknown>()
  for (let i = 0; i < n; i++) {
    m.set(`user${i}`, { id: i, name: `name ${i}`, balance: i * 1.5, tags: ['a', 'b', `c${i % 3}`], createdAt: new Date(i), seen: new Set([i, i + 1]) })
  }
  return m
}

function frames(roots: Map<string, unknown>, chunkSize: number): Buffer[] {
  return [...encodeRoots(roots, { chunkSize })]
}

t.test('state round-trips over a Unix socket, chunked and with backpressure', async (t) => {
  const { sender, receiver } = await socketPair(t)
  const big = accounts(20_000)
  const shared = { role: 'admin' }
  const small = new Map<string, unknown>([['a', shared], ['b', shared]])
  const roots = new Map<string, unknown>([['accounts', big], ['small', small], ['version', 3n], ['none', undefined]])
  const received = receiveState(receiver)
  // Tiny buffer limit: the sender must wait for 'drain' many times.
  const sent = await sendState(sender, roots, { chunkSize: 500, maxBuffered: 64 * 1024 })
  const { roots: out, stats } = await received
  t.same(stats, sent)
  t.same(sent, { bytes: sent.bytes, records: 20_000 + 2 + 1 + 1, roots: 4 })
  t.ok(sent.bytes > 1_000_000)
  t.same(out, roots)
  const s = out.get('small') as Map<string, unknown>
  t.equal(s.get('a'), s.get('b'), 'shared object across two Map entries is one object')
  t.equal(sender.writableEnded, true, 'sender ended the socket')
})

t.test('an empty roots map transfers', async (t) => {
  const { sender, receiver } = await socketPair(t)
  const received = receiveState(receiver)
  t.same(await sendState(sender, new Map()), { bytes: 0, records: 0, roots: 0 })
  const { roots, stats } = await received
  t.equal(roots.size, 0)
  t.same(stats, { bytes: 0, records: 0, roots: 0 })
})

t.test('a sender that dies mid-way makes the receiver fail', async (t) => {
  const { sender, receiver } = await socketPair(t)
  const received = receiveState(receiver)
  const all = frames(new Map([['accounts', accounts(100)]]), 10)
  for (const frame of all.slice(0, 4)) writeFrame(sender, frame)
  sender.write(Buffer.from([0, 0, 1, 0, FrameType.CHUNK])) // half a frame
  sender.destroy()
  await t.rejects(received, { code: 'DSU_ERR_STATE_STREAM', message: /ended before DONE \(0 roots, \d+ bytes decoded, 5 bytes of an unfinished frame\)/ })
})

t.test('a sender that ends cleanly between frames, but before DONE, makes the receiver fail', async (t) => {
  const { sender, receiver } = await socketPair(t)
  const received = receiveState(receiver)
  const all = frames(new Map<string, unknown>([['x', 1], ['y', 2]]), 10)
  t.equal(all.length, 3)
  writeFrame(sender, all[0]!)
  writeFrame(sender, all[1]!)
  sender.end()
  await t.rejects(received, { code: 'DSU_ERR_STATE_STREAM', message: /ended before DONE \(2 roots/ })
})

for (const [name, wire, message] of [
  ['zero length', Buffer.from([0, 0, 0, 0]), /bad length 0/],
  ['absurd length', Buffer.from([0xff, 0xff, 0xff, 0xff]), /bad length 4294967295/],
  ['unknown frame type', Buffer.from([0, 0, 0, 2, 42, 0]), /unknown frame type 42/],
  ['corrupted payload', Buffer.from([0, 0, 0, 9, FrameType.ROOT, 0, 0, 0, 1, 0x78, 0xff, 0x0f, 0x6f]), /corrupted payload/],
] as const) {
  t.test(`a malformed frame (${name}) makes the receiver fail and hang up`, async (t) => {
    const { sender, receiver } = await socketPair(t)
    const received = receiveState(receiver)
    const hungUp = once(sender, 'close')
    sender.on('error', () => {}) // the hang-up may surface as a reset
    sender.write(wire)
    await t.rejects(received, { code: 'DSU_ERR_STATE_STREAM', message })
    t.equal(receiver.destroyed, true)
    await hungUp
  })
}

t.test('an unserializable value rejects the sender and fails the receiver', async (t) => {
  const { sender, receiver } = await socketPair(t)
  const received = receiveState(receiver)
  const big = accounts(50)
  ;(big.get('user42') as Record<string, unknown>).timer = setInterval(() => {}, 1000).unref()
  await t.rejects(sendState(sender, new Map([['accounts', big]]), { chunkSize: 10 }), {
    code: 'DSU_ERR_UNSERIALIZABLE',
    message: 'accounts.get("user42").timer: class instance Timeout',
  })
  clearInterval((big.get('user42') as { timer: NodeJS.Timeout }).timer)
  t.equal(sender.destroyed, true)
  await t.rejects(received, { code: 'DSU_ERR_STATE_STREAM' })
})

t.test('a receiver that hangs up makes the sender fail', async (t) => {
  const { sender, receiver } = await socketPair(t)
  receiver.destroy()
  // Far more than the socket buffers hold, so the sender must notice.
  await t.rejects(sendState(sender, new Map([['accounts', accounts(50_000)]]), { chunkSize: 1000 }), {
    code: 'DSU_ERR_STATE_STREAM',
  })
  t.equal(sender.destroyed, true)
})

t.test('the sender yields to the event loop between frames', async (t) => {
  const { sender, receiver } = await socketPair(t)
  const received = receiveState(receiver)
  let ticks = 0
  const ticker = setInterval(() => ticks++, 0)
  let immediates = 0
  const count = (): void => {
    immediates++
    if (!stop) setImmediate(count)
  }
  let stop = false
  setImmediate(count)
  await sendState(sender, new Map([['accounts', accounts(5_000)]]), { chunkSize: 100 })
  stop = true
  clearInterval(ticker)
  await received
  t.ok(immediates >= 50, `other callbacks ran between the 50 chunks (${immediates} immediates, ${ticks} ticks)`)
})
