// Every transform error names the version pair, the rule and the exact path.
import t from 'tap'
import { isDsuError, type ErrorCode } from '../runtime/errors.js'
import { addField, convert, custom, dropField, dropRoot, mergeRoots, renameField, renameRoot, revive, splitRoot, transformer, type Rule } from './index.js'

async function failure(rules: Rule[], roots: Record<string, unknown>, extra: object = {}, versions = { from: '1.0.0', to: '2.0.0' }): Promise<{ code: ErrorCode; message: string; cause?: unknown }> {
  try {
    await transformer({ from: '1.0.0', to: '2.0.0', rules, ...extra })(roots, versions)
  } catch (error) {
    if (!isDsuError(error)) throw error
    return error
  }
  throw new Error('the transformer succeeded')
}

const toCents = convert('customers.*.balance', (b: number) => Math.round(b * 100), { to: 'cents', expect: 'number' })

t.test('a value of the wrong kind: the issue example, exactly', async (t) => {
  const e = await failure([toCents], { customers: new Map([['c1', { balance: 1 }], ['c7', { balance: '12.50' }]]) })
  t.equal(e.code, 'DSU_ERR_TRANSFORM_RULE')
  t.equal(e.message, '1.0.0 → 2.0.0, rule convert(balance → cents) at customers.get("c7").balance: expected number, got string')
})

const cases: Array<[string, Rule[], Record<string, unknown>, ErrorCode, string]> = [
  ['array index', [addField('list.*', 'x', 1)], { list: [{}, {}, {}, 4] }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule addField(x) at list[3]: expected object, got number'],
  ['Set position', [addField('s.*', 'x', 1)], { s: new Set([{}, 'str']) }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule addField(x) at s.values()[1]: expected object, got string'],
  ['odd object key', [convert('o.*.n', (n: number) => n, { expect: 'integer' })], { o: { ok: { n: 1 }, 'a b': { n: 1.5 } } }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule convert(n) at o["a b"].n: expected integer, got 1.5'],
  ['number Map key, nested', [convert('users.*.sessions.*.expires', (ms: number) => new Date(ms), { expect: 'number' })],
    { users: new Map([[42, { sessions: new Map([['s1', { expires: null }]]) }]]) }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule convert(expires) at users.get(42).sessions.get("s1").expires: expected number, got null'],
  ['a wildcard over a non-collection', [addField('users.*.sessions.*', 'x', 1)], { users: new Map([['u1', { sessions: 3 }]]) }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule addField(x) at users.get("u1").sessions: expected Map, Set, array or object, got number'],
  ['a missing field', [toCents], { customers: new Map([['c1', { name: 'x' }]]) }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule convert(balance → cents) at customers.get("c1").balance: expected number, got nothing (no field balance)'],
  ['the new field exists already', [addField('m.*', 'accesses', 0)], { m: new Map([['a', { accesses: 3 }]]) }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule addField(accesses) at m.get("a").accesses: field already exists (number)'],
  ['rename onto an existing field', [renameField('m.*', 'a', 'b')], { m: [{ a: 1, b: 2 }] }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule renameField(a → b) at m[0].b: field already exists (number)'],
  ['revive of a non-record', [revive('m.*', class Thing {})], { m: [[1]] }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule revive(Thing) at m[0]: expected object, got array'],
  ['a function rule throws', [convert('m.*.n', () => { throw new RangeError('too big') })], { m: new Map([['k', { n: 1 }]]) }, 'DSU_ERR_TRANSFORM_FAILED',
    '1.0.0 → 2.0.0, rule convert(n) at m.get("k").n: threw RangeError: too big'],
  ['a computed default throws', [addField('m.*', 'x', () => { throw new Error('no') })], { m: { a: {} } }, 'DSU_ERR_TRANSFORM_FAILED',
    '1.0.0 → 2.0.0, rule addField(x) at m.a.x: threw Error: no'],
  ['a rule for a root that does not exist', [addField('customers.*', 'x', 1)], { users: 1 }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule addField(x) at customers.*: root customers does not exist (roots: users)'],
  ['rename onto an existing root', [renameRoot('a', 'b')], { a: 1, b: 2 }, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule renameRoot(a → b) at b: root already exists; drop or rename it first'],
  ['drop a root that does not exist', [dropRoot('cache')], {}, 'DSU_ERR_TRANSFORM_RULE',
    '1.0.0 → 2.0.0, rule dropRoot(cache) at cache: root cache does not exist (roots: none)'],
  ['split function throws', [splitRoot('a', { b: () => { throw new Error('x') } })], { a: 1 }, 'DSU_ERR_TRANSFORM_FAILED',
    '1.0.0 → 2.0.0, rule splitRoot(a → b) at a: threw Error: x'],
  ['merge function throws', [mergeRoots(['a', 'b'], 'c', () => { throw new Error('x') })], { a: 1, b: 2 }, 'DSU_ERR_TRANSFORM_FAILED',
    '1.0.0 → 2.0.0, rule mergeRoots(a, b → c) at c: threw Error: x'],
  ['custom throws', [custom(() => { throw new Error('boom') })], {}, 'DSU_ERR_TRANSFORM_FAILED',
    '1.0.0 → 2.0.0, rule custom: threw Error: boom'],
  ['custom returns nonsense', [custom(() => null as never, { name: 'x' })], {}, 'DSU_ERR_TRANSFORM_FAILED',
    '1.0.0 → 2.0.0, rule custom(x): returned null; it must return an object of root name → value'],
]

for (const [name, rules, roots, code, message] of cases) {
  t.test(name, async (t) => {
    const e = await failure(rules, roots)
    t.equal(e.code, code)
    t.equal(e.message, message)
  })
}

t.test('a thrown error is kept as the cause', async (t) => {
  const boom = new Error('boom')
  const e = await failure([convert('m.*', () => { throw boom })], { m: [1] })
  t.equal(e.cause, boom)
})

t.test('a structural failure in a fused group names every rule of the group', async (t) => {
  const e = await failure([addField('m.*', 'a', 1), dropField('m.*', 'b')], { m: 5 })
  t.equal(e.message, '1.0.0 → 2.0.0, rule addField(a) + dropField(b) at m: expected Map, Set, array or object, got number')
})

t.test('the wrong version pair', async (t) => {
  const e = await failure([], {}, {}, { from: '1.1.0', to: '2.0.0' })
  t.equal(e.code, 'DSU_ERR_TRANSFORMER_INVALID')
  t.equal(e.message, 'transformer 1.0.0 → 2.0.0 does not apply to the upgrade 1.1.0 → 2.0.0')
})

t.test('declared roots: anything else left over is refused', async (t) => {
  const e = await failure([dropRoot('cache')], { cache: 1, sessions: 2, stats: 3, users: 4 }, { declared: ['users'] })
  t.equal(e.code, 'DSU_ERR_UNDECLARED_ROOT')
  t.equal(e.message, '1.0.0 → 2.0.0: roots sessions, stats are neither declared by 2.0.0 nor dropped by the transformer')
})

t.test('invalid specs and paths fail when the transformer is built', async (t) => {
  const invalid = (fn: () => unknown, message: string) => {
    try {
      fn()
    } catch (error) {
      t.ok(isDsuError(error, 'DSU_ERR_TRANSFORMER_INVALID'))
      t.equal((error as Error).message, message)
      return
    }
    t.fail('no error')
  }
  invalid(() => addField('*.x', 'y', 1), 'rule path "*.x": a path starts with a root name, not *')
  invalid(() => addField('a..b', 'y', 1), 'rule path "a..b": empty step at 2')
  invalid(() => addField('a.["x', 'y', 1), 'rule path "a.[\\"x": unterminated ["…"] at 2')
  invalid(() => convert('a.*', (x) => x, { to: 'b' }), 'rule convert(a.* → b): "to" needs a path that ends with a field, not a.*')
  invalid(() => transformer({ from: '1', to: '', rules: [] }), 'transformer spec: from and to must be version labels')
  invalid(() => transformer({ from: '1', to: '2', rules: [{} as Rule] }), 'transformer spec: rules[0] is not a rule (use addField, convert, renameRoot, …)')
  invalid(
    () => transformer({ from: '1', to: '2', rules: [revive('a.*', 'Customer')] }),
    'rule revive(Customer): no class named Customer in the transformer\'s classes (none registered)',
  )
})
