// Transformer directories: one module per version pair, composed into one.
import t from 'tap'
import { addField, chain, convert, loadChain, loadTransformer, renameRoot, transformer, versionMatches } from './index.js'

const index = new URL('./index.js', import.meta.url).href
const dsl = (from: string, to: string, rules: string, extra = '') => `import * as d from '${index}'
export default d.transformer({ from: '${from}', to: '${to}', rules: [${rules}] })
${extra}`

t.test('v1 → v2 → v3 in one upgrade, each link with its own versions', async (t) => {
  const dir = t.testdir({
    '1.0.0--2.0.0.mjs': dsl('1.0.0', '2.0.0', `d.addField('customers.*', 'accesses', 0)`),
    '2.0.0--3.0.0.js': `export default (roots, versions) => ({ ...roots, seen: versions })`,
    'README.md': 'not a transformer',
  })
  const fn = await loadChain(dir, '1.0.0', '3.0.0')
  const out = await fn({ customers: new Map([['c1', { name: 'Ann' }]]) }, { from: '1.0.0', to: '3.0.0' })
  t.same(out.customers, new Map([['c1', { name: 'Ann', accesses: 0 }]]))
  t.same(out.seen, { from: '2.0.0', to: '3.0.0' })
  t.equal(fn.meta.from, '1.0.0')
  t.equal(fn.meta.to, '3.0.0')
  t.same(fn.meta.links.map((l) => [l.from, l.to, l.rules.map((r) => r.label)]), [
    ['1.0.0', '2.0.0', ['addField(accesses)']],
    ['2.0.0', '3.0.0', ['function']],
  ])
})

t.test('the shortest path wins', async (t) => {
  const dir = t.testdir({
    '1.0.0--2.0.0.mjs': dsl('1.0.0', '2.0.0', `d.renameRoot('a', 'b')`),
    '2.0.0--3.0.0.mjs': dsl('2.0.0', '3.0.0', `d.renameRoot('b', 'c')`),
    '1.0.0--3.0.0.mjs': dsl('1.0.0', '3.0.0', `d.renameRoot('a', 'direct')`),
  })
  const fn = await loadChain(dir, '1.0.0', '3.0.0')
  t.same(await fn({ a: 1 }, { from: '1.0.0', to: '3.0.0' }), { direct: 1 })
  const two = await loadChain(dir, '2.0.0', '3.0.0')
  t.same(await two({ b: 1 }, { from: '2.0.0', to: '3.0.0' }), { c: 1 })
})

t.test('patterns: 1.x matches any 1 release', async (t) => {
  const dir = t.testdir({ '1.x--2.0.0.mjs': dsl('1.x', '2.0.0', `d.renameRoot('a', 'b')`) })
  const fn = await loadChain(dir, '1.4.2', '2.0.0')
  t.same(await fn({ a: 1 }, { from: '1.4.2', to: '2.0.0' }), { b: 1 })
  t.ok(versionMatches('1.x', '1.0.0'))
  t.ok(versionMatches('1.2.x', '1.2.9'))
  t.ok(versionMatches('*', 'anything'))
  t.notOk(versionMatches('1.x', '2.0.0'))
  t.notOk(versionMatches('1.2.x', '1.3.0'))
  t.notOk(versionMatches('1.0.0', '1.0'))
})

t.test('a missing link is named', async (t) => {
  const dir = t.testdir({
    '1.0.0--2.0.0.mjs': dsl('1.0.0', '2.0.0', ''),
    '3.0.0--4.0.0.mjs': dsl('3.0.0', '4.0.0', ''),
  })
  await t.rejects(loadChain(dir, '1.0.0', '4.0.0'), {
    code: 'DSU_ERR_CHAIN_MISSING_LINK',
    message: `no transformer chain from 1.0.0 to 4.0.0 in ${dir}: missing 2.0.0 → 4.0.0 (have: 1.0.0 → 2.0.0, 3.0.0 → 4.0.0)`,
  })
  await t.rejects(loadChain(dir, '0.9.0', '1.0.0'), { code: 'DSU_ERR_CHAIN_MISSING_LINK', message: /missing 0\.9\.0 → 1\.0\.0/ })
})

t.test('from === to is the identity', async (t) => {
  const fn = await loadChain(t.testdir({}), '2.0.0', '2.0.0')
  const roots = { a: new Map() }
  const out = await fn(roots, { from: '2.0.0', to: '2.0.0' })
  t.equal(out.a, roots.a)
})

t.test('a module whose metadata contradicts its file name is refused', async (t) => {
  const dir = t.testdir({ '1.0.0--2.0.0.mjs': dsl('1.0.0', '2.1.0', '') })
  await t.rejects(loadChain(dir, '1.0.0', '2.0.0'), { code: 'DSU_ERR_TRANSFORMER_INVALID', message: /is named for 1\.0\.0 → 2\.0\.0 but declares 1\.0\.0 → 2\.1\.0/ })
})

t.test('a module without a default function, and a directory that is not there', async (t) => {
  const dir = t.testdir({ '1.0.0--2.0.0.mjs': 'export const x = 1' })
  await t.rejects(loadChain(dir, '1.0.0', '2.0.0'), { code: 'DSU_ERR_TRANSFORMER_INVALID', message: /has no default-exported function \(found undefined\)/ })
  await t.rejects(loadChain(`${dir}/nope`, '1.0.0', '2.0.0'), { code: 'DSU_ERR_TRANSFORMER_NOT_FOUND' })
})

t.test('a separate schemas export is checked after the module runs', async (t) => {
  const dir = t.testdir({
    't.mjs': `import { z } from 'zod'\nimport { mapOf } from '${index}'\nexport default (r) => r\nexport const schemas = { m: mapOf(z.number()) }`,
  })
  // tap's fixture directories sit inside this package, so the fixture resolves zod from its node_modules.
  const fn = await loadTransformer(`${dir}/t.mjs`)
  t.ok(fn.meta.schemas?.m)
  await t.rejects(fn({ m: new Map([['a', 'x']]) }, { from: '1', to: '2' }), {
    code: 'DSU_ERR_VALIDATION',
    message: '1 → 2: m.get("a"): Invalid input: expected number, received string, got "x"',
  })
  t.same(await fn({ m: new Map([['a', 1]]) }, { from: '1', to: '2' }), { m: new Map([['a', 1]]) })
})

t.test('chain() composes compiled transformers in memory', async (t) => {
  const a = transformer({ from: '1', to: '2', rules: [addField('m.*', 'n', 1)] })
  const b = transformer({ from: '2', to: '3', rules: [convert('m.*.n', (n: number) => n + 1)] })
  const both = chain(a, b)
  t.same(await both({ m: [{}] }, { from: '1', to: '3' }), { m: [{ n: 2 }] })
  t.throws(() => chain(a, transformer({ from: '4', to: '5', rules: [renameRoot('x', 'y')] })), { code: 'DSU_ERR_CHAIN_MISSING_LINK', message: /missing 2 → 4/ })
  await t.rejects(both({}, { from: '2', to: '3' }), { code: 'DSU_ERR_TRANSFORMER_INVALID' })
})
