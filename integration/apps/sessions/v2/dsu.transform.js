// 1.0.0 → 2.0.0: the MemoryStore keeps each session as a JSON string; json()
// reaches into it, so adding the field is one rule.
import { addField, transformer } from 'dsu/transformers'

export default transformer({ from: '1.0.0', to: '2.0.0', rules: [addField('sessions.*.json()', 'plan', 'free')] })
