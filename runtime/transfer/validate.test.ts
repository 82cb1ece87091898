import t from 'tap'
import { isDsuError } from '../errors.js'
import { encodeRoots } from './state-codec.js'

// What follows the kind of an unregistered instance: how to let it travel.
const hint = (name: string): string => ` (register it: registerClass(${name}) for your own class, registerType(name, codec) for a library's)`

class Account {
  balance = 1
}

// Encodes everything (both whole and forcibly chunked) and returns the refusal message.
function refusal(roots: Record<string, unknown>, chunkSize?: number): string {
  try {
    for (const frame of encodeRoots(new Map(Object.entries(roots)), { chunkSize })) void frame
  } catch (error) {
    if (!isDsuError(error, 'DSU_ERR_UNSERIALIZABLE')) throw error
    return error.message
  }
  throw new Error('encoding succeeded')
}

const fn = (): void => {}

const cases: Array<[string, () => Record<string, unknown>, string]> = [
  ['function in a Map value', () => ({ counters: new Map([['a', { timer: fn }]]) }), 'counters.get("a").timer: function'],
  ['function as a Map key', () => ({ sessions: new Map<unknown, number>([['x', 1], [2, 2], [fn, 3]]) }), 'sessions.keys()[2]: function'],
  ['class instance under a number key', () => ({ users: new Map([[1, { account: new Account() }]]) }), 'users.get(1).account: class instance Account' + hint('Account')],
  ['symbol in an array', () => ({ cfg: { flags: [true, Symbol('x')] } }), 'cfg.flags[1]: symbol'],
  ['function in a Set element', () => ({ s: new Set([{ ok: 1 }, { fn }]) }), 's.values()[1].fn: function'],
  ['nested arrays', () => ({ list: [1, [2, [3, fn]]] }), 'list[1][1][1]: function'],
  ['odd object key', () => ({ o: { 'a b': { c: fn }, '3': 1 } }), 'o["a b"].c: function'],
  ['numeric object key', () => ({ o: { 7: fn } }), 'o["7"]: function'],
  ['object Map key', () => ({ m: new Map([[{ k: 1 }, { f: fn }]]) }), 'm.get(<object key #0>).f: function'],
  ['bigint Map key', () => ({ m: new Map([[5n, fn]]) }), 'm.get(5n): function'],
  ['the root itself', () => ({ handler: fn }), 'handler: function'],
  ['WeakMap', () => ({ w: { cache: new WeakMap() } }), 'w.cache: WeakMap'],
  ['WeakSet', () => ({ w: [new WeakSet()] }), 'w[0]: WeakSet'],
  ['Promise', () => ({ p: new Map([['job', Promise.resolve(1)]]) }), 'p.get("job"): Promise'],
  ['Map subclass', () => ({ m: new (class Registry extends Map {})() }), 'm: class instance Registry' + hint('Registry')],
  ['Error cause', () => ({ e: new Error('x', { cause: fn }) }), 'e.cause: function'],
  ['first of two offenders, in walk order', () => ({ a: { ok: [1, 2, { deep: fn }], later: Symbol('s') } }), 'a.ok[2].deep: function'],
  ['later root', () => ({ good: { x: 1 }, bad: { y: fn } }), 'bad.y: function'],
]

for (const [name, make, expected] of cases) {
  t.test(name, async (t) => {
    t.equal(refusal(make()), expected, 'whole root')
    t.equal(refusal(make(), 1), expected, 'chunked root (chunk size 1)')
  })
}

t.test('a refused value deep in a late chunk is found after earlier chunks were yielded', async (t) => {
  const m = new Map<number, unknown>()
  for (let i = 0; i < 50; i++) m.set(i, { i })
  m.set(50, { i: 50, cb: fn })
  const frames: Buffer[] = []
  t.throws(
    () => {
      for (const frame of encodeRoots(new Map([['big', m]]), { chunkSize: 10 })) frames.push(frame)
    },
    { code: 'DSU_ERR_UNSERIALIZABLE', message: 'big.get(50).cb: function' },
  )
  t.equal(frames.length, 6, 'BEGIN and five chunks went out before the refusal')
})

t.test('a shared refused object is reported once, at its first path', async (t) => {
  const bad = { f: fn }
  t.equal(refusal({ r: { a: [bad], b: bad } }), 'r.a[0].f: function')
})

t.test('class instances with a hostile constructor getter are still named', async (t) => {
  const proto = Object.create(null, {
    constructor: {
      get() {
        throw new Error('nope')
      },
    },
  }) as object
  t.equal(refusal({ x: Object.create(proto) as object }), 'x: class instance anonymous' + hint('anonymous'))
})

t.test('very deep data is refused, not a crash', async (t) => {
  let deep: unknown = 1
  for (let i = 0; i < 200_000; i++) deep = [deep]
  t.equal(refusal({ deep }), 'deep: nested too deeply to serialize')
})

t.test('a walker with stopAfter stops once that many registered names were met, its marks kept', async (t) => {
  const { Walker, WALK_COMPLETE, tagsOf } = await import('./validate.js')
  const { registerClass, clearRegistry } = await import('./registry.js')
  class Ledger {
    total = 1
  }
  registerClass(Ledger)
  t.teardown(clearRegistry)
  // Without stopAfter the walk goes on and finds the function after the instance.
  const whole = new Walker({ serialize: false })
  t.equal(whole.walk([new Ledger(), { late: fn }])?.kind, 'function')
  // With stopAfter 1 it ends at the instance: the rest cannot add a registered name.
  const early = new Walker({ serialize: false, stopAfter: 1 })
  let thrown: unknown
  try {
    early.walk([new Ledger(), { late: fn }])
  } catch (error) {
    thrown = error
  }
  t.equal(thrown, WALK_COMPLETE, 'it throws WALK_COMPLETE at the instance')
  t.same([...tagsOf(early.takeMarks())], ['c:Ledger'], 'the instance met before stopping is marked')
  // A null-prototype object is marked too, but is no registered name: no stop.
  const nulls = new Walker({ serialize: false, stopAfter: 1 })
  t.equal(nulls.walk([Object.create(null), { late: fn }])?.kind, 'function')
})
