// fleet app 1.0.0 -> 2.0.0: a counter's number becomes { value, updates }.
import { transformer, convert } from 'dsu/transformers'

export default transformer({
  from: '1.0.0',
  to: '2.0.0',
  rules: [convert('counters.*', (value) => ({ value, updates: 0 }), { expect: 'number' })],
})
