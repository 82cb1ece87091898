// The pause's change detector: every change v8.serialize would show marks the
// entry changed (one test per kind), identity is compared too, values it does
// not handle are resent every time, and sharing introduced after the snapshot
// sends the root whole with identity intact.
import v8 from 'node:v8'
import t from 'tap'
import { RootCopy } from './entry-copy.js'
import { PrecopySender } from './precopy.js'
import { registerClass } from './registry.js'
import { objectsOf, Shadow } from './shadow.js'
import { Kind, type Kind as KindT } from './state-codec.js'
import { receiveState } from './state-stream.js'
import { socketPair } from './socket-pair.test-support.js'

const rec = (i: number): any => ({ id: i, name: `user-${i}`, balance: i * 1.25, tags: ['a', 'b', `t${i % 7}`], createdAt: new Date(Date.UTC(2026, 0, 1) + i), seen: new Set([i, i + 1]) })

// Records `make()`, applies `change` to it, and says whether the shadow still
// calls it the same — and, as a check on the test itself, whether its bytes changed.
function detects(make: () => any, change: (v: any) => unknown): { same: boolean; bytesSame: boolean; recorded: boolean } {
  const v = make()
  const shadow = new Shadow()
  const recorded = shadow.record(0, v)
  const before = v8.serialize(v)
  const after = change(v) ?? v
  let bytesSame: boolean
  try {
    bytesSame = v8.serialize(after).equals(before)
  } catch {
    bytesSame = false
  }
  return { same: shadow.same(0, after), bytesSame, recorded }
}

class Account {
  constructor(public owner: string, public cents: number) {}
}
class Other {
  constructor(public owner: string, public cents: number) {}
}
class AccountMap extends Map<string, Account> {}
registerClass(Account)
registerClass(Other)
registerClass(AccountMap)

t.test('an entry left alone is the same, every kind it handles', async (t) => {
  const values: Array<[string, () => unknown]> = [
    ['a record', () => rec(7)],
    ['a number', () => 3.5],
    ['-0', () => -0],
    ['NaN', () => NaN],
    ['a string', () => 'x'],
    ['a bigint', () => 12n],
    ['null and undefined', () => ({ a: null, b: undefined, c: true })],
    ['a holey array', () => [1, , 3]],
    ['a nested Map', () => new Map<unknown, unknown>([[1, { a: [1] }], ['k', new Set(['x'])]])],
    ['a null-prototype object', () => Object.assign(Object.create(null), { a: 1 })],
    ['a registered class instance', () => new Account('ann', 5)],
    ['a registered class instance over a Set', () => Object.setPrototypeOf(new Set([1, 2]), Account.prototype)],
    ['a registered class instance over a Map', () => Object.setPrototypeOf(new Map([['k', { a: 1 }]]), Account.prototype)],
    ['a registered Map subclass', () => new AccountMap([['a', new Account('a', 1)]])],
    ["an object with a Map subclass's prototype that is no Map", () => Object.assign(Object.create(AccountMap.prototype), { a: 1 })],
    ['integer-like keys', () => ({ 2: 'b', 1: 'a', z: 0 })],
  ]
  for (const [what, make] of values) {
    const r = detects(make, () => undefined)
    t.ok(r.recorded, `${what}: handled`)
    t.ok(r.same, `${what}: same`)
  }
})

t.test('each kind of change marks the entry changed', async (t) => {
  const cases: Array<[string, () => any, (v: any) => unknown]> = [
    ['a leaf number', () => rec(1), (v) => { v.balance += 1 }],
    ['a leaf string', () => rec(1), (v) => { v.name = 'someone' }],
    ['a leaf boolean', () => ({ ok: true }), (v) => { v.ok = false }],
    ['a key added', () => rec(1), (v) => { v.extra = 1 }],
    ['a key removed', () => rec(1), (v) => { delete v.tags }],
    ['keys reordered', () => ({ a: 1, b: 2 }), (v) => { const a = v.a; delete v.a; v.a = a }],
    ['a key made non-enumerable', () => ({ a: 1, b: 2 }), (v) => { Object.defineProperty(v, 'a', { enumerable: false }) }],
    ['a type change, number to string', () => ({ a: 1 }), (v) => { v.a = '1' }],
    ['a type change, null to undefined', () => ({ a: null }), (v) => { v.a = undefined }],
    ['a type change, number to bigint', () => ({ a: 1 }), (v) => { v.a = 1n }],
    ['a type change, array to object', () => ({ a: [] }), (v) => { v.a = {} }],
    ['0 to -0', () => ({ a: 0 }), (v) => { v.a = -0 }],
    ['-0 to 0', () => ({ a: -0 }), (v) => { v.a = 0 }],
    ['NaN to a number', () => ({ a: NaN }), (v) => { v.a = 1 }],
    ['an int to a double', () => ({ a: 1 }), (v) => { v.a = 1.5 }],
    ['a large number', () => ({ a: 2 ** 40 }), (v) => { v.a = 2 ** 40 + 1 }],
    ['an array element', () => rec(1), (v) => { v.tags[1] = 'z' }],
    ['an array grown', () => rec(1), (v) => { v.tags.push('x') }],
    ['an array shortened', () => rec(1), (v) => { v.tags.length = 2 }],
    ['a hole filled with undefined', () => ({ a: [1, , 3] }), (v) => { v.a[1] = undefined }],
    ['undefined made a hole', () => ({ a: [1, undefined, 3] }), (v) => { delete v.a[1] }],
    ['an array given a named key', () => ({ a: [1, 2] }), (v) => { v.a.note = 'x' }],
    ['a Set member added', () => rec(1), (v) => { v.seen.add(99) }],
    ['a Set member removed', () => rec(1), (v) => { v.seen.delete(1) }],
    ['a Set reordered', () => rec(1), (v) => { v.seen.delete(1); v.seen.add(1) }],
    ['a Set member replaced by an equal-looking object', () => ({ s: new Set([{ a: 1 }]) }), (v) => { v.s.clear(); v.s.add({ a: 1 }) }],
    ['a Map value', () => ({ m: new Map([['k', 1]]) }), (v) => { v.m.set('k', 2) }],
    ['a Map key', () => ({ m: new Map([['k', 1]]) }), (v) => { v.m.delete('k'); v.m.set('j', 1) }],
    ['a Map reordered', () => ({ m: new Map([['a', 1], ['b', 2]]) }), (v) => { v.m.delete('a'); v.m.set('a', 1) }],
    ["a Date's time", () => rec(1), (v) => { v.createdAt.setTime(0) }],
    ['an invalid Date', () => rec(1), (v) => { v.createdAt.setTime(NaN) }],
    ['a nested object replaced by an equal one', () => rec(1), (v) => { v.tags = [...v.tags] }],
    ['a top-level value replaced by an equal one', () => rec(1), (v) => ({ ...v })],
    ['a nested instance replaced by another class with the same fields', () => ({ acct: new Account('ann', 5) }), (v) => { v.acct = new Other('ann', 5) }],
    ['a prototype changed in place', () => ({ acct: new Account('ann', 5) }), (v) => { Object.setPrototypeOf(v.acct, Other.prototype) }],
    ['a plain object given a prototype', () => ({ o: { a: 1 } }), (v) => { Object.setPrototypeOf(v.o, null) }],
    ["a registered instance's field", () => ({ acct: new Account('ann', 5) }), (v) => { v.acct.cents = 6 }],
    // What an instance is underneath decides how v8 writes it, not its prototype chain:
    // a real Set or Map given a registered class's prototype is still compared by its members.
    ['a value of a registered Map subclass', () => new AccountMap([['a', new Account('a', 1)]]), (v) => { v.get('a').cents = 2 }],
    ['a member of a Set with a class prototype', () => ({ s: Object.setPrototypeOf(new Set([1]), Account.prototype) }), (v) => { Set.prototype.add.call(v.s, 2) }],
    ['a value of a Map with a class prototype', () => ({ m: Object.setPrototypeOf(new Map([['k', 1]]), Account.prototype) }), (v) => { Map.prototype.set.call(v.m, 'k', 2) }],
    ['a primitive entry', () => 5, () => 6],
    ['a string entry', () => 'a', () => 'b'],
  ]
  for (const [what, make, change] of cases) {
    const r = detects(make, change)
    t.ok(r.recorded, `${what}: handled`)
    t.notOk(r.same, `${what}: seen`)
  }
  // The byte-level changes among them, to show the shadow sees at least what the bytes do.
  t.notOk(detects(() => ({ a: [1, , 3] }), (v) => { v.a[1] = undefined }).bytesSame, 'a hole and undefined differ in bytes too')
  t.ok(detects(() => rec(1), (v) => { v.tags = [...v.tags] }).bytesSame, 'an equal replacement has the same bytes: only identity shows it')
})

t.test('values it does not handle: the entry is resent every time, never guessed', async (t) => {
  const exotic: Array<[string, () => unknown]> = [
    ['a Buffer', () => ({ b: Buffer.from('abc') })],
    ['a typed array', () => ({ b: new Float64Array([1, 2]) })],
    ['an ArrayBuffer', () => ({ b: new ArrayBuffer(4) })],
    ['a DataView', () => ({ b: new DataView(new ArrayBuffer(4)) })],
    ['a RegExp', () => ({ r: /a/g })],
    ['a boxed number', () => ({ n: Object(1) })],
    ['a boxed string', () => ({ s: Object('s') })],
    ['an Error', () => ({ e: new Error('x') })],
    ['an array with a named key', () => ({ a: Object.assign([1], { note: 'x' }) })],
    ['an unregistered class instance', () => ({ c: new (class Foo { a = 1 })() })],
  ]
  for (const [what, make] of exotic) {
    const r = detects(make, () => undefined)
    t.notOk(r.recorded, `${what}: not handled`)
    t.notOk(r.same, `${what}: resent though unchanged`)
  }
  // In a root: those entries go in every pause, the others do not.
  const m = new Map<string, unknown>()
  for (let i = 0; i < 100; i++) m.set(`k${i}`, i % 10 === 0 ? { b: Buffer.from([i]) } : rec(i))
  const copy = new RootCopy('m', m, Kind.MAP)
  for (const frame of copy.snapshot()) void frame
  const outcome = copy.diff()
  t.same('changed' in outcome ? outcome.changed : outcome, 10, 'only the 10 entries with a Buffer are resent')
})

t.test('the shadow is exact for an entry that shrinks and grows at once', async (t) => {
  // Tokens of one entry must not run into the next slot's.
  const shadow = new Shadow()
  const a = { x: [1, 2] }
  const b = { y: 1 }
  shadow.record(0, a)
  shadow.record(1, b)
  a.x.pop()
  t.notOk(shadow.same(0, a))
  t.ok(shadow.same(1, b))
  a.x.push(2)
  t.ok(shadow.same(0, a), 'back as it was')
})

// The copy of `root` after its snapshot went out, for diff().
function snapshotted(root: object, kind: KindT): RootCopy {
  const copy = new RootCopy('r', root, kind)
  for (const frame of copy.snapshot()) void frame
  return copy
}

t.test('sharing introduced after the snapshot sends the root whole', async (t) => {
  const make = (): Map<string, any> => new Map(Array.from({ length: 50 }, (_, i) => [`k${i}`, rec(i)]))
  {
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    m.get('k1').friendTags = m.get('k2').tags // entry k2 is unchanged
    t.match(copy.diff(), { whole: /share/ }, "an entry given a reference to an unchanged entry's nested object")
  }
  {
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    m.get('k1').link = m.get('k2') // k2's top-level value
    t.match(copy.diff(), { whole: /share/ }, "an entry given a reference to another entry's value")
  }
  {
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    const shared = { n: 1 }
    m.get('k1').s = shared
    m.get('k2').s = shared
    t.match(copy.diff(), { whole: /share/ }, 'two changed entries share a new object')
  }
  {
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    const shared = { n: 1 }
    m.set('new1', { s: shared })
    m.set('new2', { s: shared })
    t.match(copy.diff(), { whole: /share/ }, 'two new entries share an object')
  }
  {
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    m.get('k3').back = m
    t.match(copy.diff(), { whole: /root|share/ }, 'an entry now holds the root')
  }
  {
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    const o = { n: 1 }
    m.get('k3').self = { o, again: o }
    t.match(copy.diff(), { whole: /share/ }, 'a changed entry holding one object twice')
  }
  {
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    m.set('k1', m.get('k2'))
    t.match(copy.diff(), { whole: /share/ }, 'one value set under two keys')
  }
  {
    // Moved, not shared: k2 gives its tags to k1 and no longer holds them.
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    m.get('k1').tags = m.get('k2').tags
    m.get('k2').tags = []
    const outcome = copy.diff()
    t.same('changed' in outcome ? outcome.changed : outcome, 2, 'an object moved from one entry to another is not shared: both resent')
  }
  {
    // Many new objects (compared through a Set, not one by one), one of them shared.
    const m = make()
    const copy = snapshotted(m, Kind.MAP)
    for (let i = 0; i < 20; i++) m.set(`new${i}`, rec(1000 + i))
    const fresh = copy.diff()
    t.same('changed' in fresh ? fresh.changed : fresh, 20, 'twenty new entries of new objects: only they are sent')
    m.get('new7').old = m.get('k40').createdAt
    t.match(copy.diff(), { whole: /share/ }, "and when one of them also holds an unchanged entry's Date, the root goes whole")
  }
  {
    // Set root whose entries are objects; array root.
    const s = new Set(Array.from({ length: 20 }, (_, i) => rec(i)))
    const copy = snapshotted(s, Kind.SET)
    const [a, b] = [...s]
    a.other = b.seen
    t.match(copy.diff(), { whole: /share/ }, 'Set root: a member given another member’s nested object')
    const arr = Array.from({ length: 20 }, (_, i) => rec(i))
    const copyA = snapshotted(arr, Kind.ARRAY)
    arr.push(arr[3])
    t.match(copyA.diff(), { whole: /share/ }, 'array root: an element pushed again')
  }
})

t.test('objectsOf lists every object once, into values the shadow does not handle', async (t) => {
  const a: any = { x: [1], d: new Date(0), m: new Map([[{ k: 1 }, new Set([{}])]]), b: Buffer.from('x') }
  const out: object[] = []
  objectsOf(a, out)
  t.equal(out.length, 8, 'a, the array, the Date, the Map, its key, its Set, the Set member, the Buffer')
  const inner = { n: 1 }
  const e = new Error('x', { cause: inner })
  const cyclic: any = new (class Foo { self: unknown = null })()
  cyclic.self = cyclic
  const list: object[] = []
  objectsOf({ e, cyclic }, list)
  t.ok(list.includes(inner), "an Error's cause is followed")
  t.equal(list.filter((o) => o === cyclic).length, 1, 'a cycle inside an unhandled value ends')
})

const pair = () => socketPair('dsu-shadow-')

t.test('end to end: shared after the snapshot arrives whole with identity intact; a replaced class arrives as its class', async (t) => {
  {
    const { client, server, close } = await pair()
    t.teardown(close)
    const m = new Map<string, any>(Array.from({ length: 2000 }, (_, i) => [`k${i}`, rec(i)]))
    const received = receiveState(server)
    const sender = new PrecopySender(client, new Map([['m', m]]))
    await sender.run()
    m.get('k10').alsoSeen = m.get('k1500').seen
    const stats = await sender.finish(new Map())
    const got = (await received).roots.get('m') as Map<string, any>
    t.match(stats.whole, { m: /share/ })
    t.equal(got.get('k10').alsoSeen, got.get('k1500').seen, 'one Set, as in the old version')
  }
  {
    const { client, server, close } = await pair()
    t.teardown(close)
    const m = new Map<string, any>(Array.from({ length: 2000 }, (_, i) => [`k${i}`, { acct: new Account(`u${i}`, i) }]))
    const received = receiveState(server)
    const sender = new PrecopySender(client, new Map([['m', m]]))
    await sender.run()
    m.get('k7').acct = new Other('u7', 7) // same own fields, another class
    const stats = await sender.finish(new Map())
    const got = (await received).roots.get('m') as Map<string, any>
    t.same(stats.whole, {})
    t.equal(stats.changed, 1)
    t.ok(got.get('k7').acct instanceof Other, 'the nested replacement is seen and arrives as its class')
    t.ok(got.get('k8').acct instanceof Account)
  }
})
