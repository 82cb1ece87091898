// bank 2.0.0 -> 3.0.0: class Account is now BankAccount. renameClass maps the
// name while the state is decoded; the inverse maps it back for `dsu rollback`.
import { transformer, renameClass } from 'dsu/transformers'

export default transformer({
  from: '2.0.0',
  to: '3.0.0',
  rules: [renameClass('Account', 'BankAccount')],
  declared: ['accounts'],
  inverse: { from: '3.0.0', to: '2.0.0', rules: [renameClass('BankAccount', 'Account')] },
})
