// Mistakes found from metadata and a manifest alone, before any value moves.
import t from 'tap'
import { isDsuError } from '../runtime/errors.js'
import { addField, assertPreflight, custom, dropRoot, loadChain, preflight, renameRoot, splitRoot, transformer, type Manifest } from './index.js'

const manifest = (extra: Partial<Manifest> = {}): Manifest => ({
  from: '1.0.0',
  to: '2.0.0',
  roots: [
    { name: 'customers', kind: 'map', count: 3 },
    { name: 'counters', kind: 'map', count: 2 },
    { name: 'cache', kind: 'object', count: 10 },
    { name: 'hits', kind: 'value', count: 1 },
  ],
  ...extra,
})

const good = transformer({
  from: '1.0.0',
  to: '2.0.0',
  rules: [addField('customers.*', 'accesses', 0), renameRoot('counters', 'tallies'), dropRoot('cache', 'hits')],
  declared: ['customers', 'tallies', 'sessions'],
})

t.test('a transformer that fits: no problems, nothing unchecked', async (t) => {
  t.same(preflight(good, manifest()), { ok: true, problems: [], warnings: [] })
})

t.test('undeclared roots are listed', async (t) => {
  const report = preflight(transformer({ from: '1.0.0', to: '2.0.0', rules: [dropRoot('cache')] }), manifest({ declared: ['customers'] }))
  t.same(report.problems, [{
    code: 'DSU_ERR_UNDECLARED_ROOT',
    message: '1.0.0 → 2.0.0: roots counters, hits are neither declared by 2.0.0 nor dropped by the transformer',
  }])
})

t.test('every mistake at once: missing roots, wrong kinds, clashes, versions, undeclared', async (t) => {
  const bad = transformer({
    from: '1.0.0',
    to: '2.1.0',
    rules: [
      addField('users.*', 'x', 1),
      addField('hits.*', 'x', 1),
      addField('customers.name', 'x', 1),
      renameRoot('counters', 'customers'),
      dropRoot('sessions'),
      splitRoot('cache', { a: (c) => c, b: (c) => c }),
    ],
    declared: ['customers', 'a'],
  })
  const report = preflight(bad, manifest())
  t.equal(report.ok, false)
  t.same(report.problems.map((p) => `${p.code}: ${p.message}`), [
    'DSU_ERR_TRANSFORMER_INVALID: transformer 1.0.0 → 2.1.0 does not apply to the upgrade 1.0.0 → 2.0.0',
    'DSU_ERR_TRANSFORM_RULE: 1.0.0 → 2.0.0, rule addField(x) at users: root users does not exist in 1.0.0 (roots: customers, counters, cache, hits)',
    'DSU_ERR_TRANSFORM_RULE: 1.0.0 → 2.0.0, rule addField(x) at hits.*: root hits is a plain value, not a Map, Set, array or object',
    'DSU_ERR_TRANSFORM_RULE: 1.0.0 → 2.0.0, rule addField(x) at customers.name: root customers is a map; a field step needs an object (use * for its elements)',
    'DSU_ERR_TRANSFORM_RULE: 1.0.0 → 2.0.0, rule renameRoot(counters → customers) at customers: root already exists; drop or rename it first',
    'DSU_ERR_TRANSFORM_RULE: 1.0.0 → 2.0.0, rule dropRoot(sessions) at sessions: root sessions does not exist in 1.0.0 (roots: customers, cache, hits)',
    'DSU_ERR_UNDECLARED_ROOT: 1.0.0 → 2.0.0: roots hits, b are neither declared by 2.0.0 nor dropped by the transformer',
  ])
})

t.test('assertPreflight throws the first code with every problem listed', async (t) => {
  const fn = transformer({ from: '1.0.0', to: '2.0.0', rules: [dropRoot('nope')], declared: [] })
  try {
    assertPreflight(fn, manifest())
    t.fail('no error')
  } catch (error) {
    t.ok(isDsuError(error, 'DSU_ERR_TRANSFORM_RULE'))
    t.match((error as Error).message, /^1\.0\.0 → 2\.0\.0, rule dropRoot\(nope\) at nope: .*\nDSU_ERR_UNDECLARED_ROOT: .*customers, counters, cache, hits/)
  }
  t.same(assertPreflight(good, manifest()).ok, true)
})

t.test('function rules: checked through when they name their roots, else reported as unchecked', async (t) => {
  const named = transformer({ from: '1.0.0', to: '2.0.0', rules: [custom((r) => r, { roots: ['customers'] }), addField('counters.*', 'x', 1)], declared: ['customers'] })
  t.same(preflight(named, manifest()).problems.map((p) => p.code), ['DSU_ERR_TRANSFORM_RULE'])
  const blind = transformer({ from: '1.0.0', to: '2.0.0', rules: [custom((r) => r)], declared: [] })
  const report = preflight(blind, manifest())
  t.same(report.problems, [])
  t.same(report.warnings, ['1.0.0 → 2.0.0, rule custom is a function; roots after it were not checked'])
  t.same(preflight(() => ({}), manifest()).warnings, ['1.0.0 → 2.0.0, rule function is a function; roots after it were not checked'])
})

t.test('without declared roots the check says what it could not do', async (t) => {
  const report = preflight(transformer({ from: '1.x', to: '2.0.0', rules: [] }), manifest())
  t.equal(report.ok, true)
  t.match(report.warnings[0], /undeclared roots were not checked/)
})

t.test('a chain: each link sees the roots the previous one left', async (t) => {
  const index = new URL('./index.js', import.meta.url).href
  const dir = t.testdir({
    '1.0.0--2.0.0.mjs': `import { transformer, renameRoot } from '${index}'
      export default transformer({ from: '1.0.0', to: '2.0.0', rules: [renameRoot('counters', 'tallies')] })`,
    '2.0.0--3.0.0.mjs': `import { transformer, addField, dropRoot } from '${index}'
      export default transformer({ from: '2.0.0', to: '3.0.0', rules: [addField('counters.*', 'x', 1), dropRoot('cache', 'hits')] })`,
  })
  const chained = await loadChain(dir, '1.0.0', '3.0.0')
  const report = preflight(chained, manifest({ to: '3.0.0', declared: ['customers', 'tallies'] }))
  t.same(report.problems.map((p) => p.message), [
    '2.0.0 → 3.0.0, rule addField(x) at counters: root counters does not exist in 2.0.0 (roots: customers, cache, hits, tallies)',
  ])
})
