import v8 from 'node:v8'
import t from 'tap'
import { encodeRoots, FrameType, StateDecoder, type EncodeOptions, type TransferStats } from './state-codec.js'

function encode(roots: Map<string, unknown>, options?: EncodeOptions): { frames: Buffer[]; stats: TransferStats } {
  const frames: Buffer[] = []
  const it = encodeRoots(roots, options)
  for (;;) {
    const next = it.next()
    if (next.done) return { frames, stats: next.value }
    frames.push(next.value)
  }
}

function roundTrip(roots: Map<string, unknown>, options?: EncodeOptions) {
  const { frames, stats } = encode(roots, options)
  const decoder = new StateDecoder()
  for (const frame of frames) decoder.push(frame)
  return { roots: decoder.finish(), stats, decoded: decoder.stats, types: frames.map((f) => f[0]) }
}

const { ROOT, BEGIN, CHUNK, RESET, END, DONE } = FrameType

function everyType(): Record<string, unknown> {
  const ab = new ArrayBuffer(8)
  new Uint8Array(ab).set([1, 2, 3, 4, 5, 6, 7, 8])
  const nullProto = Object.create(null) as Record<string, unknown>
  nullProto.k = 'v'
  return {
    num: 1.5,
    negZero: -0,
    nan: NaN,
    str: 'héllo ✓',
    bool: false,
    nil: null,
    undef: undefined,
    big: 2n ** 70n,
    date: new Date(1_700_000_000_123),
    re: /a+b/gi,
    arr: [1, 'two', [3], { four: 4 }],
    sparse: [1, , 3], // eslint-disable-line no-sparse-arrays
    map: new Map<unknown, unknown>([['a', 1], [2, 'b'], [{ objKey: true }, new Set([1])]]),
    set: new Set(['x', 1, 2n]),
    u8: new Uint8Array([1, 2, 255]),
    i32: new Int32Array([-1, 2]),
    f64: new Float64Array([Math.PI, -Infinity]),
    bi64: new BigInt64Array([-5n]),
    buf: Buffer.from('buffer'),
    dv: new DataView(ab, 2, 4),
    ab,
    boxedNum: new Number(7),
    boxedStr: new String('s'),
    boxedBool: new Boolean(true),
    error: new RangeError('out of range'),
    nullProto,
    'odd key': { nested: { deeper: [new Date(0)] } },
  }
}

t.test('every supported type round-trips, as a whole root and as scalar roots', async (t) => {
  const value = everyType()
  const roots = new Map<string, unknown>([['all', value], ...Object.entries(value)])
  const { roots: out, stats, decoded, types } = roundTrip(roots)
  // A null-prototype object is announced by a TYPES frame (8) before its root's frame.
  t.same(types, [...[...roots.keys()].flatMap((name) => (name === 'all' || name === 'nullProto' ? [8, ROOT] : [ROOT])), DONE])
  t.same(decoded, stats)
  t.equal(stats.roots, roots.size)
  t.same([...out.keys()], [...roots.keys()])
  for (const [name, original] of roots) t.same(out.get(name), original, name)
  const all = out.get('all') as Record<string, unknown>
  t.ok(Object.is(all.negZero, -0))
  t.ok(Number.isNaN(all.nan))
  t.ok('undef' in all && all.undef === undefined)
  t.equal((all.re as RegExp).flags, 'gi')
  t.ok(Buffer.isBuffer(all.buf))
  t.ok(all.dv instanceof DataView)
  t.same([...new Uint8Array((all.ab as ArrayBuffer))], [1, 2, 3, 4, 5, 6, 7, 8])
  t.ok(all.boxedNum instanceof Number)
  t.equal(Number(all.boxedNum), 7)
  t.equal(String(all.boxedStr), 's')
  t.ok(all.error instanceof RangeError)
  t.equal(Object.getPrototypeOf(all.nullProto), null, 'null prototype kept')
  t.equal(Object.getPrototypeOf(out.get('nullProto')), null, 'null prototype kept, as a root')
  t.equal((all.error as Error).message, 'out of range')
  t.notOk(1 in (all.sparse as unknown[]), 'hole kept')
  t.equal(out.get('undef'), undefined)
  t.ok(out.has('undef'))
})

t.test('cycles and shared references inside a whole root keep identity', async (t) => {
  const shared = { n: 1 }
  const node: Record<string, unknown> = { shared }
  node.self = node
  const map = new Map<string, unknown>([['a', shared], ['b', shared], ['node', node]])
  map.set('map', map)
  const { roots, types } = roundTrip(new Map([['m', map]]))
  t.same(types, [ROOT, DONE])
  const m = roots.get('m') as Map<string, Record<string, unknown>>
  t.equal(m.get('a'), m.get('b'), 'two Map entries share one object')
  t.equal(m.get('node')!.self, m.get('node'), 'self cycle')
  t.equal(m.get('node')!.shared, m.get('a'))
  t.equal(m.get('map'), m, 'map contains itself')
  t.not(m.get('a'), shared, 'a copy, not the original')
})

function records(n: number): Map<string, { id: number; tags: string[]; at: Date }> {
  const m = new Map<string, { id: number; tags: string[]; at: Date }>()
  for (let i = 0; i < n; i++) m.set(`k${i}`, { id: i, tags: [`t${i}`], at: new Date(i) })
  return m
}

t.test('large collections are chunked and rebuilt', async (t) => {
  const big = records(10)
  const set = new Set(Array.from({ length: 7 }, (_, i) => ({ i })))
  const arr = Array.from({ length: 5 }, (_, i) => [i])
  const obj: Record<string, unknown> = JSON.parse('{"a":1,"b 2":2,"__proto__":3,"c":4}') as Record<string, unknown>
  const roots = new Map<string, unknown>([['big', big], ['set', set], ['arr', arr], ['obj', obj], ['small', new Map([[1, 1]])]])
  const { roots: out, stats, decoded, types } = roundTrip(roots, { chunkSize: 3 })
  t.same(types, [
    BEGIN, CHUNK, CHUNK, CHUNK, CHUNK, END, // 10 map entries
    BEGIN, CHUNK, CHUNK, CHUNK, END, // 7 set elements
    BEGIN, CHUNK, CHUNK, END, // 5 array items
    BEGIN, CHUNK, CHUNK, END, // 4 object keys
    ROOT, // at most chunkSize entries: one frame
    DONE,
  ])
  t.same(stats, { bytes: stats.bytes, records: 10 + 7 + 5 + 4 + 1, roots: 5 })
  t.same(decoded, stats)
  t.same(out.get('big'), big)
  t.same([...(out.get('big') as Map<string, unknown>).keys()], [...big.keys()], 'order kept')
  t.same(out.get('set'), set)
  t.same(out.get('arr'), arr)
  const o = out.get('obj') as Record<string, unknown>
  t.equal(Object.getPrototypeOf(o), Object.prototype, '__proto__ key did not change the prototype')
  t.same(Object.entries(o), [['a', 1], ['b 2', 2], ['__proto__', 3], ['c', 4]])
})

t.test('chunks of big entries shrink towards chunkBytes', async (t) => {
  const m = new Map(Array.from({ length: 20 }, (_, i) => [i, 'x'.repeat(10_000)] as const))
  const { frames } = encode(new Map([['m', m]]), { chunkSize: 8, chunkBytes: 25_000 })
  const sizes = frames.filter((f) => f[0] === CHUNK).map((f) => (v8.deserialize(f.subarray(1)) as unknown[]).length / 2)
  t.same(sizes, [8, 2, 2, 2, 2, 2, 2])
})

t.test('shared references inside one chunk keep identity without fallback', async (t) => {
  const big = records(8)
  big.get('k1')!.tags = big.get('k0')!.tags // same chunk of 4
  const { roots, types } = roundTrip(new Map([['big', big]]), { chunkSize: 4 })
  t.same(types, [BEGIN, CHUNK, CHUNK, END, DONE])
  const m = roots.get('big') as typeof big
  t.equal(m.get('k0')!.tags, m.get('k1')!.tags)
})

t.test('a reference shared across chunks falls back to one whole payload', async (t) => {
  const big = records(10)
  const shared = { config: true }
  Object.assign(big.get('k0')!, { shared })
  Object.assign(big.get('k9')!, { shared }) // chunk 0 and chunk 4
  const { roots, types, stats, decoded } = roundTrip(new Map<string, unknown>([['big', big], ['after', 1]]), { chunkSize: 2 })
  t.same(types.slice(0, 1), [BEGIN])
  t.same(types.slice(-4), [RESET, ROOT, ROOT, DONE], 'reset, the whole root, then the next root')
  t.equal(types.filter((x) => x === CHUNK).length, 4, 'chunks before the crossing went out; none after')
  t.same(decoded, stats)
  t.equal(stats.records, 11)
  const m = roots.get('big') as Map<string, Record<string, unknown>>
  t.equal(m.size, 10)
  t.equal(m.get('k0')!.shared, m.get('k9')!.shared, 'identity across the former chunk boundary')
  t.same(m, big)
  t.equal(roots.get('after'), 1)
})

t.test('a shared Date leaf across chunks also falls back', async (t) => {
  const at = new Date(5)
  const arr = [{ at }, 1, 2, { at }]
  const { roots, types } = roundTrip(new Map([['arr', arr]]), { chunkSize: 1 })
  t.ok(types.includes(RESET))
  const out = roots.get('arr') as Array<{ at: Date }>
  t.equal(out[0]!.at, out[3]!.at)
})

t.test('a cycle back to a chunked root falls back and survives', async (t) => {
  const set = new Set<unknown>([1, 2, 3])
  set.add({ parent: set })
  const { roots, types } = roundTrip(new Map([['s', set]]), { chunkSize: 2 })
  t.same(types, [BEGIN, CHUNK, RESET, ROOT, DONE])
  const s = roots.get('s') as Set<unknown>
  const last = [...s].at(-1) as { parent: unknown }
  t.equal(last.parent, s)
})

t.test('identity across different roots is not kept (roots are independent)', async (t) => {
  const shared = { x: 1 }
  const { roots } = roundTrip(new Map([['a', shared], ['b', shared]]))
  t.same(roots.get('a'), roots.get('b'))
  t.not(roots.get('a'), roots.get('b'))
})

t.test('an empty roots map is just DONE', async (t) => {
  const { roots, stats, types } = roundTrip(new Map())
  t.same(types, [DONE])
  t.equal(roots.size, 0)
  t.same(stats, { bytes: 0, records: 0, roots: 0 })
})

t.test('empty and scalar roots count one record each, collections their entries', async (t) => {
  const { stats } = roundTrip(new Map<string, unknown>([['m', new Map()], ['n', 5], ['o', { a: 1, b: 2 }]]))
  t.same({ records: stats.records, roots: stats.roots }, { records: 0 + 1 + 2, roots: 3 })
})

t.test('encoding is lazy', async (t) => {
  const it = encodeRoots(new Map([['big', records(10)]]), { chunkSize: 2 })
  t.equal((it.next().value as Buffer)[0], BEGIN)
  t.equal((it.next().value as Buffer)[0], CHUNK)
  t.equal(it.return(undefined as never).done, true)
})

t.test('the decoder refuses malformed frame sequences', async (t) => {
  const valid = encode(new Map<string, unknown>([['big', records(4)], ['x', 1]]), { chunkSize: 2 }).frames
  const nameFrame = (type: number, name: string, rest: Buffer) =>
    Buffer.concat([Buffer.from([type]), Buffer.from([0, 0, 0, name.length]), Buffer.from(name), rest])
  const bad: Array<[string, Buffer[], RegExp]> = [
    ['unknown type', [Buffer.from([99, 1, 2])], /unknown frame type 99/],
    ['empty frame', [Buffer.alloc(0)], /empty frame/],
    ['chunk outside a root', [valid[1]!], /chunk outside/],
    ['end outside a root', [Buffer.from([END])], /end outside/],
    ['reset outside a root', [Buffer.from([RESET])], /reset outside/],
    ['root inside a chunked root', [valid[0]!, valid[4]!], /root frame inside chunked root "big"/],
    ['begin of unknown kind', [Buffer.from([BEGIN, 9, 0, 0, 0, 0])], /unknown collection kind 9/],
    ['name longer than the frame', [Buffer.from([ROOT, 0, 0, 0, 50, 65])], /name longer than frame/],
    ['corrupted payload', [nameFrame(ROOT, 'x', Buffer.from([0xff, 0x0f, 0x6f, 0x22, 0x05]))], /corrupted payload/],
    ['garbage payload', [nameFrame(ROOT, 'x', Buffer.from('not v8 at all'))], /corrupted payload/],
    ['chunk that is not a list', [valid[0]!, Buffer.concat([Buffer.from([CHUNK]), v8.serialize(5)])], /not an entry list/],
    ['odd map chunk', [valid[0]!, Buffer.concat([Buffer.from([CHUNK]), v8.serialize([1])])], /odd map chunk/],
    ['missing frame (DONE disagrees)', [valid[0]!, valid[1]!, valid[3]!, valid[4]!, valid[5]!], /DONE announces/],
    ['DONE inside a chunked root', [valid[0]!, valid[5]!], /DONE inside/],
    ['DONE not JSON', [Buffer.from([DONE, 1, 2])], /DONE is not JSON/],
    ['root sent twice', [valid[4]!, valid[4]!], /root "x" sent twice/],
    ['frame after DONE', [Buffer.from([DONE, ...Buffer.from('{"bytes":0,"records":0,"roots":0}')]), valid[4]!], /frame after DONE/],
  ]
  t.same(valid.map((f) => f[0]), [BEGIN, CHUNK, CHUNK, END, ROOT, DONE], 'fixture')
  for (const [name, frames, message] of bad) {
    const decoder = new StateDecoder()
    t.throws(() => frames.forEach((f) => decoder.push(f)), { code: 'DSU_ERR_STATE_STREAM', message }, name)
  }
})

t.test('finish before DONE is a stream error', async (t) => {
  const decoder = new StateDecoder()
  decoder.push(encode(new Map([['x', 1]])).frames[0]!)
  t.equal(decoder.done, false)
  t.throws(() => decoder.finish(), { code: 'DSU_ERR_STATE_STREAM', message: /ended before DONE \(1 roots/ })
})
