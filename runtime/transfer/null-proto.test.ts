// Objects with a null prototype (Object.create(null), e.g. express-session's
// MemoryStore.sessions) keep it through the state codec: v8 alone delivers
// them with Object.prototype. Whole roots, chunked roots (also when a shared
// reference makes the encoder resend the root whole), and nested objects.
import t from 'tap'
import { encodeRoots, FrameType, StateDecoder, type EncodeOptions } from './state-codec.js'
import { clearRegistry, plainResolver } from './registry.js'

function roundTrip(roots: Map<string, unknown>, options?: EncodeOptions): { roots: Map<string, unknown>; frames: Buffer[]; records: number } {
  const frames = [...encodeRoots(roots, options)]
  const decoder = new StateDecoder()
  for (const frame of frames) decoder.push(frame)
  return { roots: decoder.finish(), frames, records: decoder.stats.records }
}

function bare(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, entries)
}

t.beforeEach(() => clearRegistry())

t.test('a null-prototype root keeps its null prototype and counts its keys', async (t) => {
  const { roots, records } = roundTrip(new Map([['sessions', bare({ s1: '{"user":"ann"}', constructor: 'an id named like a member' })]]))
  const sessions = roots.get('sessions') as Record<string, unknown>
  t.equal(Object.getPrototypeOf(sessions), null)
  t.same(Object.keys(sessions), ['s1', 'constructor'])
  t.equal(sessions.constructor, 'an id named like a member')
  t.equal(records, 2)
})

t.test('nested null-prototype objects, next to plain ones and shared', async (t) => {
  const inner = bare({ a: 1 })
  const { roots } = roundTrip(new Map<string, unknown>([['m', new Map<string, unknown>([['x', inner], ['y', { plain: inner }], ['z', [bare({}), {}]]])]]))
  const m = roots.get('m') as Map<string, any>
  t.equal(Object.getPrototypeOf(m.get('x')), null)
  t.equal(m.get('y').plain, m.get('x'), 'shared reference kept')
  t.equal(Object.getPrototypeOf(m.get('y')), Object.prototype)
  t.equal(Object.getPrototypeOf(m.get('z')[0]), null)
  t.equal(Object.getPrototypeOf(m.get('z')[1]), Object.prototype)
})

t.test('a chunked null-prototype root, and one resent whole after a shared reference', async (t) => {
  const big = bare({})
  for (let i = 0; i < 50; i++) big[`s${i}`] = i % 3 === 0 ? bare({ n: i }) : { n: i }
  const chunked = roundTrip(new Map([['sessions', big]]), { chunkSize: 8 })
  t.ok(chunked.frames.some((f) => f[0] === FrameType.CHUNK), 'sent in chunks')
  const a = chunked.roots.get('sessions') as Record<string, { n: number }>
  t.equal(Object.getPrototypeOf(a), null)
  t.equal(chunked.records, 50)
  t.equal(Object.getPrototypeOf(a.s3), null)
  t.equal(Object.getPrototypeOf(a.s4), Object.prototype)
  t.same(Object.keys(a), Object.keys(big))

  const shared = { n: -1 }
  const crossing = bare({})
  for (let i = 0; i < 20; i++) crossing[`s${i}`] = shared
  const resent = roundTrip(new Map([['sessions', crossing]]), { chunkSize: 4 })
  t.ok(resent.frames.some((f) => f[0] === FrameType.RESET), 'reset and resent whole')
  const b = resent.roots.get('sessions') as Record<string, unknown>
  t.equal(Object.getPrototypeOf(b), null)
  t.equal(b.s0, b.s19)
  t.equal(resent.records, 20)
})

t.test('plain data sends no types frame; a checker (plain resolver) keeps null too', async (t) => {
  const plain = roundTrip(new Map([['m', new Map([['a', { x: 1 }]])]]))
  t.notOk(plain.frames.some((f) => f[0] === FrameType.TYPES))
  const frames = [...encodeRoots(new Map([['s', bare({ a: 1 })]]))]
  const decoder = new StateDecoder({ resolve: plainResolver })
  for (const frame of frames) decoder.push(frame)
  t.equal(Object.getPrototypeOf(decoder.finish().get('s')), null)
})
