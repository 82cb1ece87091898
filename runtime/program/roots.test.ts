// The manifest the old version sends for pre-flight: with registrations, the
// classes and types each root holds; without, no walk and no such fields.
import t from 'tap'
import { manifest, precopyRoots, PRECOPY_MIN, state } from './roots.js'
import { clearRegistry, registerClass, registerType } from '../transfer/registry.js'

class Account {
  balance = 0
}
class Cache {
  entries: string[] = []
}

t.test('the manifest lists the registered classes and types each root holds', async (t) => {
  t.teardown(clearRegistry)
  await state('plain', () => new Map([['a', { n: 1 }]]))
  t.same(await manifest(), [{ name: 'plain', kind: 'map', count: 1 }], 'nothing registered: names, kinds and counts only')

  registerClass(Account)
  registerType('cache', { isApplicable: (v) => v instanceof Cache, serialize: (c: Cache) => c.entries, deserialize: (e: string[]) => Object.assign(new Cache(), { entries: e }) })
  await state('accounts', () => new Map([['a', new Account()], ['b', new Account()]]))
  await state('mixed', () => ({ cache: new Cache(), owner: { account: new Account() } }))
  t.same(await manifest(), [
    { name: 'plain', kind: 'map', count: 1 },
    { name: 'accounts', kind: 'map', count: 2, classes: ['Account'] },
    { name: 'mixed', kind: 'object', count: 2, classes: ['Account'], types: ['cache'] },
  ])
})

t.test('collections of PRECOPY_MIN entries are pre-copied by default; the option forces it either way', async (t) => {
  const big = (n: number): Map<number, number> => new Map(Array.from({ length: n }, (_, i) => [i, i]))
  await state('big-map', () => big(PRECOPY_MIN))
  await state('big-set', () => new Set(big(PRECOPY_MIN).keys()))
  await state('big-array', () => [...big(PRECOPY_MIN).keys()])
  await state('big-object', () => Object.fromEntries(big(PRECOPY_MIN)))
  await state('small', () => big(PRECOPY_MIN - 1))
  await state('small-forced', () => big(3), { precopy: true })
  await state('big-off', () => big(PRECOPY_MIN), { precopy: false })
  class Sub extends Map<number, number> {}
  await state('subclass', () => { const m = new Sub(); for (const [k, v] of big(PRECOPY_MIN)) m.set(k, v); return m }, { precopy: true })
  await state('value', () => 42, { precopy: true })
  // Goes whole, where the codec keeps its null prototype (express-session's store).
  await state('null-proto', () => Object.assign(Object.create(null), Object.fromEntries(big(PRECOPY_MIN))), { precopy: true })
  t.same([...precopyRoots().keys()], ['big-map', 'big-set', 'big-array', 'big-object', 'small-forced'])
  t.ok((await manifest()).find((r) => r.name === 'big-set')?.precopy, 'the manifest says which roots are pre-copied')
  process.env.DSU_PRECOPY = 'off'
  t.teardown(() => { delete process.env.DSU_PRECOPY })
  t.same([...precopyRoots().keys()], [], 'DSU_PRECOPY=off turns it off')
})
