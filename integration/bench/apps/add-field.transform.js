// The bench's transformer: one per-entry rule on the records (issue 13 target
// 3: its pause should be within 10 % of the same upgrade without it). Any
// version pair; overwrite, since the bench upgrades the same code again and again.
import { addField, transformer } from 'dsu/transformers'

export default transformer({ from: '*', to: '*', rules: [addField('records.*', 'plan', 'free', { overwrite: true })] })
