// fleet app 2.0.0 -> 3.0.0: records gain a region (filled in by v3 on its first write).
import { transformer, addField } from 'dsu/transformers'

export default transformer({
  from: '2.0.0',
  to: '3.0.0',
  rules: [addField('counters.*', 'region', null)],
})
