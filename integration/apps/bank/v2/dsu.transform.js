// bank 1.0.0 -> 2.0.0: every account gains `deposits` (each v1 deposit was one
// unit, so it equals the balance). The instances are already v2 Accounts when
// the rule runs. The inverse drops the field again, for `dsu rollback`.
import { transformer, addField, dropField } from 'dsu/transformers'

export default transformer({
  from: '1.0.0',
  to: '2.0.0',
  rules: [addField('accounts.*', 'deposits', (account) => account.balance)],
  declared: ['accounts'],
  inverse: { from: '2.0.0', to: '1.0.0', rules: [dropField('accounts.*', 'deposits')] },
})
