// Instances built by a per-class template instead of Object.setPrototypeOf
// (class-codec.ts, InstanceBuilder): each must be exactly what setPrototypeOf
// would have made — the new class's prototype, the same own enumerable data
// fields in the same order, no constructor call — and every case the template
// cannot build (accessors or read-only fields on the prototype chain, an
// own "__proto__" field, Arrays/Maps underneath, a null prototype) must still
// get its prototype in place.
import t from 'tap'
import v8 from 'node:v8'
import { InstanceBuilder } from './class-codec.js'
import { encodeRoots, StateDecoder } from './state-codec.js'
import { clearRegistry, registerClass, registryResolver } from './registry.js'

// What the receiver holds before revival: a decoded plain object.
const decoded = <T>(v: T): T => v8.deserialize(v8.serialize(v)) as T

function ownShape(o: object): Array<[string, PropertyDescriptor]> {
  return Reflect.ownKeys(o).map((k) => [String(k), Object.getOwnPropertyDescriptor(o, k)!])
}

let constructed = 0
class Point {
  declare x: number
  declare y: number
  constructor() {
    constructed++
  }
  norm(): number {
    return Math.hypot(this.x, this.y)
  }
}

t.afterEach(() => clearRegistry())

t.test('a plain decoded object becomes an equal instance; no constructor runs', async (t) => {
  const b = new InstanceBuilder()
  const before = constructed
  const inputs = [decoded({ x: 3, y: 4 }), decoded({ x: 6, y: 8 }), decoded({ y: 1, x: 0 }), decoded({ x: 1 }), decoded({ x: 1, y: 2, label: 'p', 0: 'zero' })]
  const shapes = inputs.map(ownShape)
  const out = inputs.map((v) => b.instance(v, Point.prototype) as Point)
  t.equal(constructed, before, 'the class constructor never ran')
  out.forEach((p, i) => {
    t.equal(Object.getPrototypeOf(p), Point.prototype, `#${i} has the class prototype`)
    t.ok(p instanceof Point)
    t.equal(p.constructor, Point)
    t.same(ownShape(p), shapes[i], `#${i}: same own fields, order and attributes`)
  })
  t.equal(out[0]!.norm(), 5)
  t.not(out[0], inputs[0], 'built as a new object (the template path)')
  t.same(Object.keys(out[2]!), ['y', 'x'], 'field order of each instance kept')
})

t.test('fields the prototype chain also has keep setPrototypeOf: no setter runs, read-only names still land', async (t) => {
  let setterCalls = 0
  class Guarded {
    set balance(_v: number) {
      setterCalls++
    }
    get balance(): number {
      return -1
    }
  }
  Object.defineProperty(Guarded.prototype, 'fixed', { value: 'proto', writable: false })
  const b = new InstanceBuilder()
  for (const input of [decoded({ balance: 5, n: 1 }), decoded({ fixed: 'own', n: 2 }), decoded({ toString: 'own', n: 3 })]) {
    const shape = ownShape(input)
    const got = b.instance(input, Guarded.prototype)
    t.equal(got, input, 'the same object, its prototype set in place')
    t.equal(Object.getPrototypeOf(got), Guarded.prototype)
    t.same(ownShape(got), shape)
  }
  t.equal(setterCalls, 0, 'the setter never ran')
})

t.test('an own "__proto__" field, Arrays and Maps underneath and a null prototype are set in place', async (t) => {
  const b = new InstanceBuilder()
  const odd = decoded(JSON.parse('{"__proto__": {"evil": 1}, "n": 1}') as object)
  t.ok(Object.hasOwn(odd, '__proto__'), 'decoded with an own __proto__ field')
  const got = b.instance(odd, Point.prototype)
  t.equal(Object.getPrototypeOf(got), Point.prototype)
  t.same(ownShape(got), ownShape(odd))
  class List extends Array {}
  const arr = b.instance(decoded([1, 2]), List.prototype)
  t.ok(arr instanceof List && Array.isArray(arr))
  class Registry extends Map {}
  const map = b.instance(decoded(new Map([['a', 1]])), Registry.prototype) as Registry
  t.ok(map instanceof Registry)
  t.equal(map.get('a'), 1)
  class Empty {}
  const empty = decoded(new Map())
  t.equal(b.instance(empty, Empty.prototype), empty, 'a Map is never rebuilt as a plain object')
  const bare = b.instance(decoded({ a: 1 }), null)
  t.equal(Object.getPrototypeOf(bare), null)
})

t.test('many instances of several classes at mixed depths, in Set, array and Map values, through chunked frames', async (t) => {
  class Account1 {
    constructor(public id: string, public balance: number, public note?: string) {}
  }
  class Tag1 {
    constructor(public name: string) {}
  }
  class Account2 {
    declare id: string
    declare balance: number
    cents(): number {
      return Math.round(this.balance * 100)
    }
  }
  class Tag2 {
    declare name: string
    upper(): string {
      return this.name.toUpperCase()
    }
  }
  clearRegistry()
  registerClass(Account1, { name: 'Account' })
  registerClass(Tag1, { name: 'Tag' })
  const m = new Map<string, unknown>()
  const n = 3000
  for (let i = 0; i < n; i++) {
    switch (i % 6) {
      case 0: m.set(`k${i}`, new Account1(`a${i}`, i)); break
      case 1: m.set(`k${i}`, new Account1(`a${i}`, i, 'with a note')); break // a second field list
      case 2: m.set(`k${i}`, new Tag1(`t${i}`)); break
      case 3: m.set(`k${i}`, { plain: i, deep: { account: new Account1(`d${i}`, i) } }); break
      case 4: m.set(`k${i}`, [new Tag1(`x${i}`), new Set([new Account1(`s${i}`, i)])]); break
      default: m.set(`k${i}`, new Map([['inner', new Tag1(`m${i}`)]]))
    }
  }
  const frames = [...encodeRoots(new Map([['m', m]]), { chunkSize: 256 })]
  clearRegistry()
  registerClass(Account2, { name: 'Account' })
  registerClass(Tag2, { name: 'Tag' })
  const decoder = new StateDecoder()
  for (const f of frames) decoder.push(f)
  const got = decoder.finish().get('m') as Map<string, unknown>
  t.equal(got.size, n)
  let bad = 0
  for (let i = 0; i < n; i++) {
    const v = got.get(`k${i}`) as never
    const want = m.get(`k${i}`) as never
    let ok: boolean
    switch (i % 6) {
      case 0:
      case 1: {
        const a = v as Account2
        ok = a instanceof Account2 && a.cents() === i * 100 && JSON.stringify(Object.keys(a)) === JSON.stringify(Object.keys(want))
        break
      }
      case 2: ok = (v as Tag2) instanceof Tag2 && (v as Tag2).upper() === `T${i}`; break
      case 3: ok = Object.getPrototypeOf(v) === Object.prototype && (v as { deep: { account: Account2 } }).deep.account instanceof Account2; break
      case 4: {
        const [tag, set] = v as [Tag2, Set<Account2>]
        ok = tag instanceof Tag2 && [...set][0] instanceof Account2 && [...set][0]!.id === `s${i}`
        break
      }
      default: ok = (v as Map<string, Tag2>).get('inner') instanceof Tag2
    }
    if (!ok) bad++
  }
  t.equal(bad, 0, 'every value arrived with its new class, fields and order')
  t.equal((got.get('k1') as { note: string }).note, 'with a note')
})

t.test('a renamed class resolves through the renames on the template path', async (t) => {
  class Account1 {
    constructor(public id: string, public balance: number) {}
  }
  class BankAccount {
    declare balance: number
    kind(): string {
      return 'bank'
    }
  }
  clearRegistry()
  registerClass(Account1, { name: 'Account' })
  const m = new Map(Array.from({ length: 100 }, (_, i) => [`k${i}`, new Account1(`k${i}`, i)] as const))
  const frames = [...encodeRoots(new Map([['m', m]]), { chunkSize: 16 })]
  clearRegistry()
  registerClass(BankAccount)
  const decoder = new StateDecoder({ resolve: registryResolver(new Map([['Account', 'BankAccount']])) })
  for (const f of frames) decoder.push(f)
  const got = decoder.finish().get('m') as Map<string, BankAccount>
  t.ok([...got.values()].every((a, i) => a instanceof BankAccount && a.kind() === 'bank' && a.balance === i))
})
