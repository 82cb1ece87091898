// A → B → A with a declared inverse: null when lossless, else the first difference.
import t from 'tap'
import { addField, convert, dropField, loadChain, renameField, renameRoot, roundTrip, transformer, type Rule } from './index.js'

const versions = { from: '1.0.0', to: '2.0.0' }
const pair = (rules: Rule[], back: Rule[]) =>
  transformer({ from: '1.0.0', to: '2.0.0', rules, inverse: { from: '2.0.0', to: '1.0.0', rules: back } })

const state = () => ({
  customers: new Map([
    ['c1', { name: 'Ann', balance: 12.5, since: new Date(0), tags: new Set(['vip']) }],
    ['c7', { name: 'Bob', balance: 0.125, since: new Date(1), tags: new Set<string>() }],
  ]),
  counters: [1, 2, 3],
})

t.test('a lossless transformer round-trips to null, and the input is untouched', async (t) => {
  const fn = pair(
    [addField('customers.*', 'accesses', 0), renameField('customers.*', 'name', 'fullName'), renameRoot('counters', 'tallies')],
    [dropField('customers.*', 'accesses'), renameField('customers.*', 'fullName', 'name'), renameRoot('tallies', 'counters')],
  )
  const roots = state()
  t.equal(await roundTrip(fn, roots, versions), null)
  t.same(roots, state(), 'the original state was not mutated')
})

t.test('a lossy conversion reports the first difference path', async (t) => {
  const fn = pair(
    [convert('customers.*.balance', (b: number) => Math.round(b * 100), { to: 'cents' })],
    [convert('customers.*.cents', (c: number) => c / 100, { to: 'balance' })],
  )
  t.same(await roundTrip(fn, state(), versions), { path: 'customers.get("c7").balance', detail: '0.125 vs 0.13' })
})

t.test('differences in Sets, Dates, missing fields and roots', async (t) => {
  const diff = (rules: Rule[]) => roundTrip(pair(rules, []), state(), versions)
  t.same(await diff([convert('customers.*.tags', (s: Set<string>) => new Set([...s, 'x']))]), { path: 'customers.get("c1").tags', detail: 'size 1 vs 2' })
  t.same(await diff([convert('customers.*.since', (d: Date) => new Date(d.getTime() + 1))]), {
    path: 'customers.get("c1").since',
    detail: 'Date(1970-01-01T00:00:00.000Z) vs Date(1970-01-01T00:00:00.001Z)',
  })
  t.same(await diff([dropField('customers.*', 'name')]), { path: 'customers.get("c1").name', detail: 'missing after the round trip' })
  t.same(await diff([convert('counters.*', (n: number) => (n === 3 ? '3' : n))]), { path: 'counters[2]', detail: '3 vs "3"' })
  t.same(await diff([renameRoot('counters', 'tallies')]), { path: 'counters', detail: 'root missing after the round trip' })
})

t.test('no inverse declared', async (t) => {
  await t.rejects(roundTrip(transformer({ from: '1.0.0', to: '2.0.0', rules: [] }), {}, versions), { code: 'DSU_ERR_TRANSFORMER_INVALID', message: /declares no inverse/ })
  t.equal(await roundTrip(transformer({ from: '1.0.0', to: '2.0.0', rules: [] }), { a: 1 }, versions, (r) => r), null, 'or pass one')
})

t.test('a chain inverts when every link declares an inverse (and an inverse export counts)', async (t) => {
  const index = new URL('./index.js', import.meta.url).href
  const dir = t.testdir({
    '1.0.0--2.0.0.mjs': `import * as d from '${index}'
      export default d.transformer({ from: '1.0.0', to: '2.0.0', rules: [d.renameRoot('a', 'b')],
        inverse: { from: '2.0.0', to: '1.0.0', rules: [d.renameRoot('b', 'a')] } })`,
    '2.0.0--3.0.0.mjs': `export default ({ b, ...rest }) => ({ ...rest, c: b * 2 })
      export const inverse = ({ c, ...rest }) => ({ ...rest, b: c / 2 })`,
  })
  const fn = await loadChain(dir, '1.0.0', '3.0.0')
  t.equal(await roundTrip(fn, { a: 21 }, { from: '1.0.0', to: '3.0.0' }), null)
})
