// Registered classes and types through the state codec: the old version's
// classes are registered while encoding, the new version's (same names, new
// methods) while decoding, as in two processes.
import t from 'tap'
import { LRUCache } from 'lru-cache'
import { doneFrame, encodeRoots, FrameType, StateDecoder, patchFrames, type EncodeOptions } from './state-codec.js'
import { clearRegistry, plainResolver, registerClass, registerType, registryResolver, type Resolver } from './registry.js'
import { Walker } from './validate.js'
import { isDsuError } from '../errors.js'

function encode(roots: Map<string, unknown>, options?: EncodeOptions): Buffer[] {
  return [...encodeRoots(roots, options)]
}

function decode(frames: Buffer[], resolve?: Resolver): Map<string, unknown> {
  const decoder = new StateDecoder(resolve ? { resolve } : {})
  for (const frame of frames) decoder.push(frame)
  return decoder.finish()
}

// Version 1's classes.
class Account1 {
  constructor(public id: string, public balance: number, public history: Map<string, number> = new Map(), public opened = new Date(0)) {}
  deposit(n: number): void {
    this.balance += n
  }
}
class Owner1 {
  constructor(public name: string, public accounts: Account1[] = []) {}
}
// Version 2's classes under the same names: a new method.
class Account2 {
  declare id: string
  declare balance: number
  declare history: Map<string, number>
  declare opened: Date
  deposit(n: number): void {
    this.balance += n
  }
  cents(): number {
    return Math.round(this.balance * 100)
  }
}
class Owner2 {
  declare name: string
  declare accounts: Account2[]
  count(): number {
    return this.accounts.length
  }
}

function asV1(): void {
  clearRegistry()
  registerClass(Account1, { name: 'Account' })
  registerClass(Owner1, { name: 'Owner' })
}
function asV2(): void {
  clearRegistry()
  registerClass(Account2, { name: 'Account' })
  registerClass(Owner2, { name: 'Owner' })
}

function bank(n: number): { accounts: Map<string, Account1>; owners: Owner1[] } {
  const accounts = new Map<string, Account1>()
  const owners: Owner1[] = []
  for (let i = 0; i < n; i++) {
    const account = new Account1(`a${i}`, i, new Map([['d', i]]), new Date(i * 1000))
    accounts.set(account.id, account)
    if (i % 10 === 0) owners.push(new Owner1(`o${i}`))
    owners[owners.length - 1]!.accounts.push(account)
  }
  return { accounts, owners }
}

t.afterEach(() => clearRegistry())

for (const [label, options] of [['whole', {}], ['chunked', { chunkSize: 7 }]] as const) {
  t.test(`instances arrive as the new version's classes (${label})`, async (t) => {
    asV1()
    const { accounts } = bank(50)
    const frames = encode(new Map<string, unknown>([['accounts', accounts]]), options)
    t.ok(frames.some((f) => f[0] === FrameType.TYPES), 'a TYPES frame announces the instances')
    asV2()
    const got = decode(frames).get('accounts') as Map<string, Account2>
    t.equal(got.size, 50)
    for (const [id, account] of got) {
      t.ok(account instanceof Account2, `${id} is an Account2`)
      t.equal(account.id, id)
      t.ok(account.history instanceof Map && account.opened instanceof Date)
    }
    const a7 = got.get('a7')!
    t.equal(a7.cents(), 700, 'the new method applies at once')
    a7.deposit(1)
    t.equal(a7.balance, 8)
  })
}

t.test('shared references across roots of instances and a cycle stay shared; chunked roots fall back whole', async (t) => {
  asV1()
  const { accounts, owners } = bank(40)
  const cyclic = new Owner1('self')
  cyclic.accounts.push(accounts.get('a1')!)
  ;(cyclic as unknown as { self: unknown }).self = cyclic
  // Owners share accounts with each other across chunks: the encoder resends the root whole.
  owners.push(new Owner1('dup', [accounts.get('a0')!]))
  const frames = encode(new Map<string, unknown>([['owners', owners], ['cyclic', cyclic]]), { chunkSize: 2 })
  t.ok(frames.some((f) => f[0] === FrameType.RESET), 'the chunked root was resent whole')
  asV2()
  const roots = decode(frames)
  const got = roots.get('owners') as Owner2[]
  t.ok(got.every((o) => o instanceof Owner2))
  t.equal(got[0]!.count(), 10)
  t.ok(got[0]!.accounts[0] instanceof Account2)
  t.equal(got[got.length - 1]!.accounts[0], got[0]!.accounts[0], 'a0 is one object in both owners')
  const self = roots.get('cyclic') as Owner2 & { self: unknown }
  t.ok(self instanceof Owner2)
  t.equal(self.self, self)
})

t.test('an instance as the root, and a registered Map subclass', async (t) => {
  class Registry1 extends Map<string, Account1> {}
  class Registry2 extends Map<string, Account2> {
    total(): number {
      let sum = 0
      for (const a of this.values()) sum += a.balance
      return sum
    }
  }
  asV1()
  registerClass(Registry1, { name: 'Registry' })
  const registry = new Registry1([['x', new Account1('x', 2)], ['y', new Account1('y', 3)]])
  const frames = encode(new Map<string, unknown>([['one', new Account1('z', 5)], ['registry', registry]]))
  asV2()
  registerClass(Registry2, { name: 'Registry' })
  const roots = decode(frames)
  t.equal((roots.get('one') as Account2).cents(), 500)
  const got = roots.get('registry') as Registry2
  t.ok(got instanceof Registry2)
  t.equal(got.total(), 5)
  t.ok(got.get('x') instanceof Account2)
})

t.test('what an instance is underneath decides how it travels, not its prototype chain', async (t) => {
  class Registry1 extends Map<string, number> {}
  class Registry2 extends Map<string, number> {}
  asV1()
  registerClass(Registry1, { name: 'Registry' })
  // No Map underneath, though `instanceof Map` says so: its own fields travel.
  const fake = Object.assign(Object.create(Registry1.prototype), { size2: 2, note: 'x' })
  // A real Set given a registered class's prototype: v8 writes it as a Set, members and all.
  const set = Object.setPrototypeOf(new Set([1, 2]), Account1.prototype)
  const frames = encode(new Map<string, unknown>([['fake', fake], ['set', set]]))
  asV2()
  registerClass(Registry2, { name: 'Registry' })
  const roots = decode(frames)
  const gotFake = roots.get('fake') as Record<string, unknown>
  t.equal(Object.getPrototypeOf(gotFake), Registry2.prototype, 'the fake arrives with the new class')
  t.same({ ...gotFake }, { size2: 2, note: 'x' }, 'its own fields, walked as a plain object\'s')
  const gotSet = roots.get('set') as Set<number>
  t.equal(Object.getPrototypeOf(gotSet), Account2.prototype)
  t.same([...Set.prototype.values.call(gotSet)], [1, 2], 'the Set arrives with its members')
})

t.test('plain data sends no TYPES frame and decodes as before', async (t) => {
  const frames = encode(new Map<string, unknown>([['m', new Map([['a', { n: 1 }]])]]))
  t.notOk(frames.some((f) => f[0] === FrameType.TYPES))
  t.same(decode(frames).get('m'), new Map([['a', { n: 1 }]]))
})

t.test('an unregistered instance is refused with its path and the registration call', async (t) => {
  class Account {
    balance = 1
  }
  t.throws(() => encode(new Map([['accounts', new Map([['a0', new Account()]])]])), {
    code: 'DSU_ERR_UNSERIALIZABLE',
    message: /^accounts\.get\("a0"\): class instance Account \(register it: registerClass\(Account\)/,
  })
})

t.test('a function held by a registered instance is refused with its path', async (t) => {
  asV1()
  const account = new Account1('a', 1) as Account1 & { onChange?: () => void }
  account.onChange = () => {}
  t.throws(() => encode(new Map([['accounts', new Map([['a', account]])]])), {
    code: 'DSU_ERR_UNSERIALIZABLE',
    message: 'accounts.get("a").onChange: function',
  })
})

t.test('private #fields do not travel (documented): the instance arrives without them', async (t) => {
  class Secret1 {
    #pin = 1234
    visible = 'yes'
    pin(): number {
      return this.#pin
    }
  }
  clearRegistry()
  registerClass(Secret1, { name: 'Secret' })
  t.equal(new Secret1().pin(), 1234)
  const frames = encode(new Map([['s', new Secret1()]]))
  const got = decode(frames).get('s') as Secret1
  t.ok(got instanceof Secret1)
  t.equal(got.visible, 'yes')
  t.throws(() => got.pin(), TypeError, 'the private field was not carried')
})

t.test('a class or type the receiver lacks fails decoding with a named error', async (t) => {
  asV1()
  const frames = encode(new Map([['a', new Account1('a', 1)]]))
  clearRegistry()
  t.throws(() => decode(frames), { code: 'DSU_ERR_CLASS_MISSING', message: /class Account/ })
  registerType<unknown, number>('box', { isApplicable: (v) => v instanceof Account1, serialize: (a) => (a as Account1).balance, deserialize: (n) => n })
  const typed = encode(new Map([['a', new Account1('a', 1)]]))
  clearRegistry()
  t.throws(() => decode(typed), { code: 'DSU_ERR_TYPE_MISSING', message: /type "box"/ })
  t.equal((decode(typed, plainResolver).get('a')), 1, 'the checker sees the data')
})

t.test('renamed classes resolve through the renames', async (t) => {
  asV1()
  const frames = encode(new Map([['a', new Map([['k', new Account1('k', 2)]])]]))
  clearRegistry()
  class BankAccount {
    declare balance: number
    kind(): string {
      return 'bank'
    }
  }
  registerClass(BankAccount)
  const got = decode(frames, registryResolver(new Map([['Account', 'BankAccount']]))).get('a') as Map<string, BankAccount>
  t.ok(got.get('k') instanceof BankAccount)
  t.equal(got.get('k')!.kind(), 'bank')
})

t.test('an LRUCache travels through registerType with its contents and recency order', async (t) => {
  const lru = () => registerType('lru', {
    isApplicable: (v) => v instanceof LRUCache,
    serialize: (c: LRUCache<string, { n: number }>) => c.dump(),
    deserialize: (d: [string, LRUCache.Entry<{ n: number }>][]) => {
      const c = new LRUCache<string, { n: number }>({ max: 5 })
      c.load(d)
      return c
    },
  })
  clearRegistry()
  lru()
  const cache = new LRUCache<string, { n: number }>({ max: 5 })
  for (const k of ['a', 'b', 'c', 'd']) cache.set(k, { n: k.charCodeAt(0) })
  cache.get('a') // a becomes the most recent
  const order = [...cache.keys()]
  // The same cache at the root, in a Map twice (one object), and held by an instance.
  registerClass(Owner1, { name: 'Owner' })
  const holder = new Owner1('h') as Owner1 & { cache?: unknown }
  holder.cache = cache
  const frames = encode(new Map<string, unknown>([['cache', cache], ['caches', new Map([['x', cache], ['y', cache]])], ['holder', holder]]))
  clearRegistry()
  lru()
  registerClass(Owner2, { name: 'Owner' })
  const roots = decode(frames)
  const got = roots.get('cache') as LRUCache<string, { n: number }>
  t.ok(got instanceof LRUCache)
  t.same([...got.keys()], order, 'recency order kept')
  t.same(got.get('c'), { n: 99 })
  const caches = roots.get('caches') as Map<string, LRUCache<string, { n: number }>>
  t.ok(caches.get('x') instanceof LRUCache)
  t.equal(caches.get('x'), caches.get('y'), 'one cache referenced twice arrives as one cache')
  const h = roots.get('holder') as Owner2 & { cache: LRUCache<string, { n: number }> }
  t.ok(h instanceof Owner2 && h.cache instanceof LRUCache)
  t.same([...h.cache.keys()], order)
})

t.test('registered instances inside a type\'s data travel too', async (t) => {
  const lru = () => registerType<unknown, unknown>('lru', {
    isApplicable: (v) => v instanceof LRUCache,
    serialize: (c) => (c as LRUCache<string, Account1>).dump(),
    deserialize: (d) => {
      const c = new LRUCache<string, Account2>({ max: 10 })
      c.load(d as [string, LRUCache.Entry<Account2>][])
      return c
    },
  })
  asV1()
  lru()
  const cache = new LRUCache<string, Account1>({ max: 10 })
  const shared = new Account1('s', 3)
  cache.set('x', new Account1('x', 1))
  cache.set('s', shared)
  const frames = encode(new Map<string, unknown>([['cache', cache], ['direct', shared]]))
  asV2()
  lru()
  const roots = decode(frames)
  const got = roots.get('cache') as LRUCache<string, Account2>
  t.same([...got.keys()], ['s', 'x'])
  t.ok(got.get('x') instanceof Account2)
  t.equal(got.get('x')!.cents(), 100)
  t.ok(roots.get('direct') instanceof Account2, 'separate roots hold separate copies, each revived')
})

t.test('a type whose serialize returns something unserializable is refused', async (t) => {
  clearRegistry()
  class Thing {}
  registerType('thing', { isApplicable: (v) => v instanceof Thing, serialize: () => ({ f: () => 1 }), deserialize: (d) => d })
  t.throws(() => encode(new Map([['x', { t: new Thing() }]])), {
    code: 'DSU_ERR_UNSERIALIZABLE',
    message: 'x.t: what registerType("thing") serialize returned holds at <data>.f: function',
  })
})

t.test('PATCH frames carry instances too', async (t) => {
  asV1()
  const frames = encode(new Map([['m', new Map([['a', new Account1('a', 1)]])]]))
  frames.pop() // DONE comes after the patch
  const walker = new Walker()
  const b = new Account1('b', 2)
  walker.elementAt(2) // as precopy does: the value of 1, key, value
  t.equal(walker.walk(b), undefined)
  frames.push(...patchFrames('m', [1, 'b', b, 0, 'a'], walker.takeMarks()))
  asV2()
  const decoder = new StateDecoder()
  for (const f of frames) decoder.push(f)
  decoder.push(doneFrame({ ...decoder.stats }))
  const root = decoder.finish().get('m') as Map<string, Account2>
  t.notOk(root.has('a'))
  t.ok(root.get('b') instanceof Account2)
  t.equal(root.get('b')!.cents(), 200)
})

t.test('registration mistakes are named', async (t) => {
  clearRegistry()
  registerClass(Account1, { name: 'Account' })
  registerClass(Account1, { name: 'Account' }) // the same again is fine
  const check = (fn: () => void, message: RegExp) => {
    try {
      fn()
      t.fail('expected a refusal')
    } catch (error) {
      t.ok(isDsuError(error, 'DSU_ERR_REGISTRATION'), String(error))
      t.match((error as Error).message, message)
    }
  }
  check(() => registerClass(Account2, { name: 'Account' }), /another class is already registered under the name Account/)
  check(() => registerClass(Account1, { name: 'Other' }), /already registered as Account/)
  check(() => registerClass(class {}), /anonymous class needs a name/)
  check(() => registerClass(42 as never), /must be a class/)
  check(() => registerType('Account', { isApplicable: () => false, serialize: (v) => v, deserialize: (v) => v }), /a class is already registered/)
  check(() => registerType('x', { isApplicable: () => false } as never), /codec.serialize must be a function/)
})

t.test('the TYPES frame costs about a byte per instance; a corrupted one is a stream error', async (t) => {
  asV1()
  const frames = encode(new Map([['accounts', bank(1000).accounts]]), { chunkSize: 100_000 })
  const types = frames.find((f) => f[0] === FrameType.TYPES)!
  t.ok(types.length < 1000 * 1.2 + 64, `${types.length} bytes for 1000 instances`)
  asV2()
  const bad = frames.map((f) => (f === types ? Buffer.from([FrameType.TYPES, 1, 2, 3]) : f))
  t.throws(() => decode(bad), { code: 'DSU_ERR_STATE_STREAM', message: /corrupted types frame/ })
  const twice = frames.flatMap((f) => (f === types ? [f, f] : [f]))
  t.throws(() => decode(twice), { code: 'DSU_ERR_STATE_STREAM', message: /types frame not followed by a payload/ })
})

t.test('chunks mixing instances, type values and plain data, with and without shared objects', async (t) => {
  class Box1 {
    constructor(public items: number[]) {}
  }
  const box = () => registerType<Box1, number[]>('box', { isApplicable: (v) => v instanceof Box1, serialize: (b) => b.items, deserialize: (items) => new Box1(items) })
  asV1()
  box()
  const make = (shared: Account1 | null) => {
    const m = new Map<string, unknown>()
    for (let i = 0; i < 30; i++) {
      const kind = i % 5
      m.set(`k${i}`, kind === 0 ? new Account1(`a${i}`, i)
        : kind === 1 ? new Box1([i, i + 1])
        : kind === 2 ? { plain: i, nested: { account: new Account1(`n${i}`, i), date: new Date(i) } }
        : kind === 3 ? [new Box1([i]), 'x', shared ?? new Account1(`s${i}`, i)]
        : i)
    }
    return m
  }
  const shared = new Account1('shared', 9)
  const frames = encode(new Map<string, unknown>([['fresh', make(null)], ['shared', make(shared)]]), { chunkSize: 4 })
  asV2()
  box()
  const roots = decode(frames)
  for (const name of ['fresh', 'shared']) {
    const m = roots.get(name) as Map<string, unknown>
    t.equal(m.size, 30, name)
    t.ok((m.get('k0') as Account2).cents() === 0 && (m.get('k5') as Account2).cents() === 500, `${name}: instances revived`)
    t.ok(m.get('k1') instanceof Box1 && (m.get('k1') as Box1).items[1] === 2, `${name}: type values rebuilt`)
    const plain = m.get('k7') as { plain: number; nested: { account: Account2; date: Date } }
    t.ok(plain.nested.account instanceof Account2 && plain.nested.date instanceof Date, `${name}: nested instance revived`)
    const arr = m.get('k8') as [Box1, string, Account2]
    t.ok(arr[0] instanceof Box1 && arr[2] instanceof Account2, `${name}: inside arrays`)
    t.equal(m.get('k4'), 4)
  }
  const s = roots.get('shared') as Map<string, [unknown, unknown, Account2]>
  t.equal(s.get('k3')![2], s.get('k28')![2], 'the shared instance is still one object')
})

t.test('two classes alternating as Map values (the walk remembers the last class met), chunked and whole', async (t) => {
  for (const chunkSize of [3, 1000]) {
    asV1()
    const m = new Map<string, unknown>()
    for (let i = 0; i < 20; i++) m.set(`k${i}`, i % 3 === 0 ? new Owner1(`o${i}`) : i % 3 === 1 ? new Account1(`a${i}`, i) : { plain: i })
    const frames = encode(new Map([['m', m]]), { chunkSize })
    asV2()
    const out = decode(frames).get('m') as Map<string, unknown>
    for (let i = 0; i < 20; i++) {
      const v = out.get(`k${i}`)
      const want = i % 3 === 0 ? Owner2.prototype : i % 3 === 1 ? Account2.prototype : Object.prototype
      t.equal(Object.getPrototypeOf(v), want, `chunk ${chunkSize}: k${i}`)
    }
    t.equal((out.get('k1') as Account2).cents(), 100)
  }
})
