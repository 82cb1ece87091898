// Every DSL form, applied to real state of every collection kind.
import t from 'tap'
import {
  addField, convert, custom, dropField, dropRoot, mergeRoots, renameField, renameRoot, revive, splitRoot, transformer,
  type Rule,
} from './index.js'

const versions = { from: '1.0.0', to: '2.0.0' }
const run = (rules: Rule[], roots: Record<string, unknown>, extra: object = {}) =>
  transformer({ from: '1.0.0', to: '2.0.0', rules, ...extra })(roots, versions)

t.test('addField with a default, over the values of a Map, Set, array and object', async (t) => {
  const roots = {
    m: new Map([['c1', { name: 'Ann', balance: 1.5 }]]),
    s: new Set([{ name: 'Bob' }]),
    a: [{ name: 'Cy' }, { name: 'Di' }],
    o: { x: { name: 'Ed' } },
  }
  const out = await run(['m', 's', 'a', 'o'].map((root) => addField(`${root}.*`, 'accesses', 0)), roots)
  t.same(out.m, new Map([['c1', { name: 'Ann', balance: 1.5, accesses: 0 }]]))
  t.same([...(out.s as Set<unknown>)], [{ name: 'Bob', accesses: 0 }])
  t.same(out.a, [{ name: 'Cy', accesses: 0 }, { name: 'Di', accesses: 0 }])
  t.same(out.o, { x: { name: 'Ed', accesses: 0 } })
  t.equal(out.m, roots.m, 'changed in place: the root keeps its identity')
})

t.test('addField with a computed value, and object defaults copied per record', async (t) => {
  const out = await run(
    [addField('m.*', 'initial', (c: { name: string }) => c.name[0]), addField('m.*', 'tags', [])],
    { m: new Map([['a', { name: 'Ann' }], ['b', { name: 'Bob' }]]) },
  )
  const m = out.m as Map<string, { initial: string; tags: string[] }>
  t.equal(m.get('a')!.initial, 'A')
  t.equal(m.get('b')!.initial, 'B')
  t.same(m.get('a')!.tags, [])
  t.not(m.get('a')!.tags, m.get('b')!.tags, 'each record has its own array')
})

t.test('addField on an existing field needs overwrite', async (t) => {
  const out = await run([addField('m.*', 'n', 5, { overwrite: true })], { m: [{ n: 1 }] })
  t.same(out.m, [{ n: 5 }])
})

t.test('convert: float balance → integer cents, renamed in place', async (t) => {
  const customer = { name: 'Ann', balance: 12.34 }
  const out = await run(
    [convert('customers.*.balance', (b: number) => Math.round(b * 100), { to: 'cents', expect: 'number' })],
    { customers: new Map([['c1', customer]]) },
  )
  t.same((out.customers as Map<string, unknown>).get('c1'), { name: 'Ann', cents: 1234 })
  t.equal((out.customers as Map<string, unknown>).get('c1'), customer, 'same record object')
})

t.test('convert receives the parent record; without to it keeps the name', async (t) => {
  const out = await run([convert('m.*.total', (_: number, parent: { a: number; b: number }) => parent.a + parent.b)], {
    m: new Map([['x', { a: 1, b: 2, total: 0 }]]),
  })
  t.same((out.m as Map<string, unknown>).get('x'), { a: 1, b: 2, total: 3 })
})

t.test('convert replaces elements of a Map, Set, array and object, and whole roots', async (t) => {
  const counters = new Map([['a', 1], ['b', 2]])
  const out = await run(
    [
      convert('counters.*', (n: number) => ({ value: n, updates: 0 }), { expect: 'number' }),
      convert('tags.*', (s: string) => s.toUpperCase()),
      convert('list.*', (n: number) => n * 2),
      convert('obj.*', (n: number) => -n),
      convert('total', (n: number) => BigInt(n)),
    ],
    { counters, tags: new Set(['x', 'y']), list: [1, 2], obj: { p: 1 }, total: 7 },
  )
  t.equal(out.counters, counters, 'the Map is updated in place')
  t.same(out.counters, new Map([['a', { value: 1, updates: 0 }], ['b', { value: 2, updates: 0 }]]))
  t.same([...(out.tags as Set<string>)], ['X', 'Y'])
  t.same(out.list, [2, 4])
  t.same(out.obj, { p: -1 })
  t.equal(out.total, 7n)
})

t.test('optional fields are skipped when missing', async (t) => {
  const out = await run(
    [convert('m.*.nick', (s: string) => s.trim(), { optional: true }), renameField('m.*', 'old', 'new', { optional: true })],
    { m: [{ nick: ' a ' }, {}] },
  )
  t.same(out.m, [{ nick: 'a' }, {}])
})

t.test('renameField and dropField', async (t) => {
  const out = await run(
    [renameField('customers.*', 'name', 'fullName'), dropField('customers.*', 'legacy'), dropField('customers.*', 'absent')],
    { customers: new Map([['c1', { name: 'Ann', legacy: true, balance: 1 }]]) },
  )
  t.same((out.customers as Map<string, unknown>).get('c1'), { balance: 1, fullName: 'Ann' })
})

t.test('nested wildcards over Maps, Sets, arrays and objects', async (t) => {
  const users = new Map([
    ['u1', { sessions: new Map([['s1', { expires: 1000 }]]) }],
    ['u2', { sessions: [{ expires: 2000 }] }],
    ['u3', { sessions: new Set([{ expires: 3000 }]) }],
    ['u4', { sessions: { web: { expires: 4000 } } }],
  ])
  const out = await run([convert('users.*.sessions.*.expires', (ms: number) => new Date(ms), { expect: 'number' })], { users })
  const u = out.users as Map<string, { sessions: unknown }>
  t.same((u.get('u1')!.sessions as Map<string, unknown>).get('s1'), { expires: new Date(1000) })
  t.same(u.get('u2')!.sessions, [{ expires: new Date(2000) }])
  t.same([...(u.get('u3')!.sessions as Set<unknown>)], [{ expires: new Date(3000) }])
  t.same(u.get('u4')!.sessions, { web: { expires: new Date(4000) } })
})

t.test('quoted path steps', async (t) => {
  const out = await run([addField('["my root"].*["last seen"]', 'ok', true)], { 'my root': [{ 'last seen': {} }] })
  t.same(out['my root'], [{ 'last seen': { ok: true } }])
})

class Customer {
  name = ''
  balance = 0
  greet(): string {
    return `hi ${this.name}`
  }
}
class Account {
  constructor(readonly id: string) {}
  static fromRecord(record: { id: string }): Account {
    return new Account(record.id.toUpperCase())
  }
}

t.test('revive: by class, by registered name, with fromRecord, and on a field', async (t) => {
  const out = await run(
    [revive('customers.*', Customer), revive('named.*', 'Customer'), revive('accounts.*', Account), revive('holder.owner', Customer)],
    {
      customers: new Map([['c1', { name: 'Ann', balance: 1 }]]),
      named: [{ name: 'Bob', balance: 2 }],
      accounts: new Set([{ id: 'a1' }]),
      holder: { owner: { name: 'Cy', balance: 3 } },
    },
    { classes: { Customer } },
  )
  const c = (out.customers as Map<string, Customer>).get('c1')!
  t.ok(c instanceof Customer)
  t.equal(c.greet(), 'hi Ann')
  t.ok((out.named as Customer[])[0] instanceof Customer)
  t.same([...(out.accounts as Set<Account>)].map((a) => [a instanceof Account, a.id]), [[true, 'A1']])
  t.equal((out.holder as { owner: Customer }).owner.greet(), 'hi Cy')
})

t.test('root rules: rename, drop, split, merge', async (t) => {
  const users = new Map([['a', { admin: true }], ['b', { admin: false }]])
  const out = await run(
    [
      renameRoot('counters', 'tallies'),
      dropRoot('cache', 'stats'),
      splitRoot('users', {
        admins: (u: typeof users) => new Map([...u].filter(([, v]) => v.admin)),
        members: (u: typeof users) => new Map([...u].filter(([, v]) => !v.admin)),
      }),
      mergeRoots(['carts', 'wishlists'], 'baskets', (carts: string[], wishlists: string[]) => [...carts, ...wishlists]),
    ],
    { counters: new Map([['x', 1]]), cache: {}, stats: 1, users, carts: ['c'], wishlists: ['w'] },
  )
  t.same(Object.keys(out).sort(), ['admins', 'baskets', 'members', 'tallies'])
  t.same(out.tallies, new Map([['x', 1]]))
  t.same([...(out.admins as Map<string, unknown>).keys()], ['a'])
  t.same([...(out.members as Map<string, unknown>).keys()], ['b'])
  t.same(out.baskets, ['c', 'w'])
})

t.test('rules run in order: a path rule after renameRoot uses the new name', async (t) => {
  const out = await run([renameRoot('counters', 'tallies'), addField('tallies.*', 'updates', 0)], { counters: [{ v: 1 }] })
  t.same(out, { tallies: [{ v: 1, updates: 0 }] })
})

t.test('custom: a function over the whole state', async (t) => {
  let seen: unknown
  const out = await run(
    [custom(async (roots, v) => {
      seen = v
      return { ...roots, index: Object.keys(roots) }
    }, { name: 'index', roots: ['a', 'index'] })],
    { a: 1 },
  )
  t.same(out, { a: 1, index: ['a'] })
  t.same(seen, versions)
})

t.test('roots without a rule pass through: same object', async (t) => {
  const sessions = new Map([['s', { user: 'u' }]])
  const roots = { sessions, other: [1] }
  const out = await run([addField('other.*', 'x', 1, {})].slice(0, 0), roots)
  t.equal(out.sessions, sessions)
  t.equal(out.other, roots.other)
  t.not(out, roots, 'the roots object itself is a copy')
})

t.test('consecutive rules on the same records share one walk', async (t) => {
  let visits = 0
  const records = new Map([['a', { n: 1 }], ['b', { n: 2 }]])
  const counting = new Proxy(records, {
    get(target, key) {
      if (key === 'values') visits++
      const value = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const out = await run([addField('m.*', 'a', 1), convert('m.*.n', (n: number) => n * 10), dropField('m.*', 'a')], { m: counting })
  t.equal(visits, 1)
  t.same([...(out.m as Map<string, unknown>).values()], [{ n: 10 }, { n: 20 }])
})

t.test('a compiled transformer is the runtime contract: (roots, { from, to }) => roots', async (t) => {
  const fn = transformer({ from: '1.x', to: '2.0.0', rules: [renameRoot('a', 'b')] })
  t.equal(typeof fn, 'function')
  t.same(await fn({ a: 1 }, { from: '1.4.2', to: '2.0.0' }), { b: 1 })
  t.equal(fn.meta.from, '1.x')
  t.same(fn.meta.rules.map((r) => r.label), ['renameRoot(a → b)'])
})

t.test('json(): records stored as JSON strings (express-session MemoryStore) take one rule', async (t) => {
  // MemoryStore keeps sid → JSON string in a null-prototype object.
  const sessions = Object.create(null) as Record<string, string>
  sessions.s1 = JSON.stringify({ cookie: { maxAge: 60000 }, user: 'ann' })
  sessions.s2 = JSON.stringify({ cookie: { maxAge: 60000 }, user: 'bob' })
  const out = await run([addField('sessions.*.json()', 'plan', 'free')], { sessions })
  const result = out.sessions as Record<string, string>
  t.equal(result, sessions, 'the store object is changed in place')
  t.equal(Object.getPrototypeOf(result), null, 'its null prototype is kept')
  t.same(JSON.parse(result.s1!), { cookie: { maxAge: 60000 }, user: 'ann', plan: 'free' })
  t.equal(typeof result.s2, 'string', 'still a JSON string')
  await t.rejects(run([addField('sessions.*.json()', 'plan', 'free')], { sessions: { s1: result.s1, s2: result.s2 } }),
    { code: 'DSU_ERR_TRANSFORM_RULE', message: /at sessions\.s1\.plan: field already exists/ }, 'failures name the record')

  const renamed = await run([renameField('sessions.*.json()', 'user', 'login')], { sessions: { s1: JSON.stringify({ user: 'cy' }) } })
  t.same(JSON.parse((renamed.sessions as Record<string, string>).s1!), { login: 'cy' }, 'a field inside the JSON')
  await t.rejects(run([addField('sessions.*.json()', 'plan', 'free')], { sessions: { bad: '{not json' } }),
    { code: 'DSU_ERR_TRANSFORM_RULE', message: /at sessions\.bad: expected a JSON string, got a string that is not JSON/ })
  await t.rejects(run([addField('sessions.*.json()', 'plan', 'free')], { sessions: { n: 7 } }),
    { code: 'DSU_ERR_TRANSFORM_RULE', message: /at sessions\.n: expected a JSON string, got number/ })
})
