// The manifest the old version sends for pre-flight: with registrations, the
// classes and types each root holds; without, no walk and no such fields.
import t from 'tap'
import { manifest, state } from './roots.js'
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
