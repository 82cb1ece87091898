// visits 1.0.0 -> 2.0.0 as a chain link, with the DSL: a count becomes { count, upgraded }.
import { transformer, convert } from 'dsu/transformers'

export default transformer({
  from: '1.0.0',
  to: '2.0.0',
  rules: [convert('visits.*', (count: number) => ({ count, upgraded: true }), { expect: 'number' })],
  declared: ['visits'],
})
