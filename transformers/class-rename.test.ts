// renameClass in the DSL: no change to the roots (the decoder applies it),
// metadata that composes through chains, and the pure pre-flight check.
import t from 'tap'
import { chain, classRenames, registrationProblems, renameClass, transformer } from './index.js'

t.test('renameClass leaves the roots alone and records the rename', async (t) => {
  const tr = transformer({ from: '2.0.0', to: '3.0.0', rules: [renameClass('Account', 'BankAccount')] })
  const roots = { accounts: new Map([['a', { balance: 1 }]]) }
  t.same(await tr(roots, { from: '2.0.0', to: '3.0.0' }), roots)
  t.same([...classRenames(tr)], [['Account', 'BankAccount']])
  t.same([...classRenames(null)], [], 'no transformer: no renames')
  t.throws(() => renameClass('', 'X'), { code: 'DSU_ERR_TRANSFORMER_INVALID' })
})

t.test('renames compose through a chain', async (t) => {
  const a = transformer({ from: '1.0.0', to: '2.0.0', rules: [renameClass('Account', 'Acct')] })
  const b = transformer({ from: '2.0.0', to: '3.0.0', rules: [renameClass('Acct', 'BankAccount'), renameClass('Owner', 'Holder')] })
  t.same(Object.fromEntries(classRenames(chain(a, b))), { Account: 'BankAccount', Owner: 'Holder' })
})

t.test('registrationProblems names every class and type the new version lacks', async (t) => {
  const versions = { from: '1.0.0', to: '2.0.0' }
  const roots = [
    { name: 'accounts', kind: 'map' as const, count: 2, classes: ['Account', 'Owner'] },
    { name: 'cache', kind: 'value' as const, count: 1, types: ['lru'] },
  ]
  t.same(registrationProblems(roots, new Map([['Account', 'BankAccount']]), { classes: ['BankAccount', 'Owner'], types: ['lru'] }, versions), [], 'all known (Account through its rename)')
  const problems = registrationProblems(roots, new Map(), { classes: ['BankAccount'], types: [] }, versions)
  t.same(problems.map((p) => p.code), ['DSU_ERR_CLASS_MISSING', 'DSU_ERR_CLASS_MISSING', 'DSU_ERR_TYPE_MISSING'])
  t.match(problems[0]!.message, "1.0.0 → 2.0.0: root accounts holds instances of class Account, which 2.0.0 does not register (it registers: BankAccount); call registerClass(Account) before the first state() call, or map the name in the transformer with renameClass('Account', '<new name>')")
  t.match(problems[2]!.message, `root cache holds values of type "lru", which 2.0.0 has no codec for (it registers: none)`)
  const renamed = registrationProblems(roots.slice(0, 1), new Map([['Account', 'Acct']]), { classes: ['Owner'], types: [] }, versions)
  t.match(renamed[0]!.message, 'class Account (renamed to Acct by renameClass), which 2.0.0 does not register')
})
