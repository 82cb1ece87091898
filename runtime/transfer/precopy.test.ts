// Pre-copy over a real Unix socket: a snapshot, changes made while it streams,
// and the final round give the receiver exactly the sender's final Map.
import t from 'tap'
import { PrecopySender } from './precopy.js'
import { receiveState } from './state-stream.js'
import { socketPair } from './socket-pair.test-support.js'

const pair = () => socketPair('dsu-precopy-')

// Deterministic PRNG (mulberry32): a failing seed can be replayed.
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

type Rec = { v: number; tags: string[]; at: Date; seen: Set<number> }
const rec = (v: number): Rec => ({ v, tags: ['a', `t${v % 7}`], at: new Date(Date.UTC(2026, 0, 1) + v), seen: new Set([v]) })

// Random changes of every kind to a root of each kind, through references
// taken before (held across turns, nested), and replacing, adding, deleting
// and reordering entries.
function mutate(kind: string, root: any, held: Rec[], random: () => number, n: number): void {
  for (let i = 0; i < n; i++) {
    const roll = random()
    const v = Math.floor(random() * 1000)
    if (roll < 0.3 && held.length > 0) {
      const r = held[Math.floor(random() * held.length)]!
      if (random() < 0.5) r.v += 1
      else r.seen.add(v) // nested
      continue
    }
    switch (kind) {
      case 'map': {
        const k = `k${Math.floor(random() * 3000)}`
        if (roll < 0.55) root.set(k, rec(v))
        else if (roll < 0.7) root.delete(k)
        else if (roll < 0.85 && root.has(k)) { const r = root.get(k); root.delete(k); root.set(k, r) } // LRU-style move
        else if (root.has(k)) root.get(k).tags.push('x')
        break
      }
      case 'object': {
        const k = random() < 0.2 ? String(Math.floor(random() * 50)) : `k${Math.floor(random() * 3000)}`
        if (roll < 0.55) root[k] = rec(v)
        else if (roll < 0.8) delete root[k]
        else if (root[k]) root[k].tags.push('x')
        break
      }
      case 'array': {
        const i = Math.floor(random() * root.length)
        if (roll < 0.5) root[i] = rec(v)
        else if (roll < 0.65) root.push(rec(v))
        else if (roll < 0.75) root.pop()
        else if (roll < 0.8) root.splice(i, 1)
        else if (root[i]) root[i].v = -v
        break
      }
      case 'set': {
        const values = [...root]
        const r = values[Math.floor(random() * values.length)]
        if (roll < 0.5) root.add(rec(v))
        else if (roll < 0.7) root.delete(r)
        else if (roll < 0.8 && r) { root.delete(r); root.add(r) } // moved to the end
        else if (r) r.v = -v
        break
      }
      case 'set-of-strings':
        if (roll < 0.6) root.add(`s${v}`)
        else root.delete(`s${v}`)
        break
    }
  }
}

function build(kind: string, n: number): { root: any; held: Rec[] } {
  const held: Rec[] = []
  const keep = (r: Rec): Rec => { if (held.length < 200) held.push(r); return r }
  switch (kind) {
    case 'map': return { root: new Map(Array.from({ length: n }, (_, i) => [`k${i}`, keep(rec(i))])), held }
    case 'object': return { root: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, keep(rec(i))])), held }
    case 'array': return { root: Array.from({ length: n }, (_, i) => keep(rec(i))), held }
    case 'set': return { root: new Set(Array.from({ length: n }, (_, i) => keep(rec(i)))), held }
    default: return { root: new Set(Array.from({ length: n }, (_, i) => `s${i}`)), held }
  }
}

// Entries in order, so a reordering shows.
const ordered = (root: any): unknown[] => (root instanceof Map || root instanceof Set ? [...root] : Array.isArray(root) ? root : Object.entries(root))

for (const kind of ['map', 'object', 'array', 'set', 'set-of-strings']) {
  t.test(`${kind}: random changes while it streams and before the pause all arrive, in order`, async (t) => {
    for (const seed of [1, 2, 3]) {
      const random = prng(seed)
      const { client, server, close } = await pair()
      t.teardown(close)
      const { root, held } = build(kind, 3000)
      const received = receiveState(server)
      const sender = new PrecopySender(client, new Map([['r', root]]))
      const running = sender.run()
      // Meanwhile the program keeps working on the root, turn after turn.
      let streaming = true
      void running.finally(() => (streaming = false))
      while (streaming) {
        mutate(kind, root, held, random, 5)
        await new Promise((resolve) => setImmediate(resolve))
      }
      await running
      mutate(kind, root, held, random, 50) // after the snapshot, before the pause
      const stats = await sender.finish(new Map([['other', { plain: true }]]))
      const { roots, stats: got } = await received
      t.same(got, { bytes: stats.bytes, records: stats.records, roots: stats.roots }, `seed ${seed}: DONE counts agree`)
      t.same(ordered(roots.get('r')), ordered(root), `seed ${seed}: the receiver holds exactly the final ${kind}`)
      t.same(roots.get('other'), { plain: true })
      t.same(stats.whole, {}, `seed ${seed}: pre-copied, not sent whole`)
      t.ok(stats.changed < 3000, `seed ${seed}: only what changed went in the pause (${stats.changed})`)
    }
  })
}

t.test('an entry changed through a reference kept from before is resent, alone', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, Rec>()
  for (let i = 0; i < 10_000; i++) m.set(`k${i}`, rec(i))
  const kept = m.get('k5000')!
  const received = receiveState(server)
  const sender = new PrecopySender(client, new Map([['m', m]]))
  await sender.run()
  kept.seen.add(-1) // no Map call at all
  const stats = await sender.finish(new Map())
  const { roots } = await received
  t.equal(stats.changed, 1)
  t.same([...(roots.get('m') as Map<string, Rec>).get('k5000')!.seen], [5000, -1])
})

t.test('entries that share objects: the root goes whole, sharing kept', async (t) => {
  for (const when of ['before', 'during the pause']) {
    const { client, server, close } = await pair()
    t.teardown(close)
    const shared = { n: 1 }
    const m = new Map<string, unknown>()
    for (let i = 0; i < 2000; i++) m.set(`k${i}`, { i })
    if (when === 'before') { m.set('k1', { s: shared }); m.set('k1500', { s: shared }) }
    const received = receiveState(server)
    const sender = new PrecopySender(client, new Map([['m', m]]))
    await sender.run()
    if (when !== 'before') { m.set('k1', { s: shared }); (m.get('k1500') as any).s = shared }
    const stats = await sender.finish(new Map())
    const got = (await received).roots.get('m') as Map<string, any>
    t.match(stats.whole, { m: /share/ }, `${when}: sent whole`)
    t.equal(got.get('k1').s, got.get('k1500').s, `${when}: one object, as in the old version`)
  }
})

t.test('an entry holding the root goes whole', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, unknown>()
  for (let i = 0; i < 2000; i++) m.set(`k${i}`, { i })
  const received = receiveState(server)
  const sender = new PrecopySender(client, new Map([['m', m]]))
  await sender.run()
  ;(m.get('k3') as any).back = m
  const stats = await sender.finish(new Map())
  const got = (await received).roots.get('m') as Map<string, any>
  t.match(stats.whole, { m: /./ })
  t.equal(got.get('k3').back, got, 'the cycle is kept')
})

t.test('an unserializable value written during the pre-copy names its path', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, unknown>([['a', { v: 1 }]])
  for (let i = 0; i < 2000; i++) m.set(`k${i}`, { i })
  const received = receiveState(server).catch((e) => e)
  const sender = new PrecopySender(client, new Map([['m', m]]))
  const running = sender.run()
  ;(m.get('a') as any).cb = () => {}
  await t.rejects(running.then(() => sender.finish(new Map())), { code: 'DSU_ERR_UNSERIALIZABLE', message: /^m\.get\("a"\)\.cb: function$/ })
  sender.abort()
  t.match(await received, { code: 'DSU_ERR_STATE_STREAM' })
})

t.test('a key deleted and set again while the snapshot streams is one record, at its new place', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, { v: number }>()
  for (let i = 0; i < 10_000; i++) m.set(`k${i}`, { v: i })
  const received = receiveState(server)
  const sender = new PrecopySender(client, new Map([['m', m]]))
  const running = sender.run()
  await new Promise((resolve) => setImmediate(resolve)) // the first chunk is out
  for (let i = 0; i < 4; i++) {
    m.delete(`k${i}`) // LRU-style: move to the end
    m.set(`k${i}`, { v: -i })
  }
  await running
  const stats = await sender.finish(new Map())
  const { roots, stats: got } = await received
  t.same(got, { bytes: stats.bytes, records: stats.records, roots: stats.roots })
  t.same([...(roots.get('m') as Map<string, unknown>)], [...m])
})

t.test('progress is reported while frames go out, with the bytes sent so far', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, { v: number }>()
  for (let i = 0; i < 20_000; i++) m.set(`k${i}`, { v: i })
  const received = receiveState(server)
  const reports: number[] = []
  // progressMs 0: every write reports, so the count does not depend on the clock.
  const sender = new PrecopySender(client, new Map([['m', m]]), { progressMs: 0, onProgress: (bytes) => reports.push(bytes) })
  await sender.run()
  const stats = await sender.finish(new Map())
  await received
  t.ok(reports.length > 1, `several reports (${reports.length})`)
  t.ok(reports.every((bytes, i) => i === 0 || bytes >= reports[i - 1]!), 'the bytes never go back')
  t.ok(reports.at(-1)! > reports[0]!, 'and grow')
  t.ok(reports.at(-1)! <= stats.bytes, 'never more than was sent')
})

// Pacing, on a clock the test drives: it reads the frames written so far, so
// slices are counted in frames and nothing depends on real time.
async function paced(entries: number, sliceMs: number, msPerFrame: number): Promise<{ turns: number[]; frames: number; same: boolean }> {
  const { client, server, close } = await pair()
  try {
    const m = new Map<string, { v: number }>()
    for (let i = 0; i < entries; i++) m.set(`k${i}`, { v: i })
    let frames = 0
    const write = client.write.bind(client) as (chunk: Buffer) => boolean
    // writeFrame writes a 4-byte length, then the frame.
    client.write = ((chunk: Buffer) => {
      if (chunk.length > 4) frames++
      return write(chunk)
    }) as typeof client.write
    const turns: number[] = []
    const received = receiveState(server)
    const sender = new PrecopySender(client, new Map([['m', m]]), {
      maxBuffered: Infinity, // slices end by time only
      sliceMs,
      now: () => frames * msPerFrame,
      yieldTurn: () => {
        turns.push(frames)
        return new Promise((resolve) => setImmediate(resolve))
      },
    })
    await sender.run()
    const sent = frames
    await sender.finish(new Map())
    const got = (await received).roots.get('m') as Map<string, unknown>
    return { turns, frames: sent, same: JSON.stringify([...got]) === JSON.stringify([...m]) }
  } finally {
    close()
  }
}

t.test('the snapshot yields to the program once a slice has run sliceMs, after whole frames', async (t) => {
  // 20 frames of 1024 small entries, 1.5 ms each on the fake clock: a 4 ms slice is 3 frames.
  const r = await paced(20 * 1024, 4, 1.5)
  t.equal(r.frames, 20)
  t.same(r.turns, [3, 6, 9, 12, 15, 18], 'one turn after every third frame')
  t.ok(r.same, 'everything arrived')
})

t.test('a frame slower than the slice yields after itself; a clock that stands still never yields', async (t) => {
  const slow = await paced(5 * 1024, 4, 10)
  t.same(slow.turns, [1, 2, 3, 4, 5], 'a turn after each frame')
  t.ok(slow.same)
  const still = await paced(5 * 1024, 4, 0)
  t.same(still.turns, [], 'one slice')
  t.ok(still.same)
})
