// counter 1.0.0 -> 2.0.0: a counter's plain number becomes { value, updates }.
// The inverse maps it back, for `dsu rollback`.
import { transformer, convert, mapOf } from 'dsu/transformers'
import { z } from 'zod'

export default transformer({
  from: '1.0.0',
  to: '2.0.0',
  rules: [convert('counters.*', (value) => ({ value, updates: 0 }), { expect: 'number' })],
  declared: ['counters'],
  schemas: { counters: mapOf(z.object({ value: z.int().nonnegative(), updates: z.int() })) },
  inverse: {
    from: '2.0.0',
    to: '1.0.0',
    rules: [convert('counters.*', (record) => record.value, { expect: 'object' })],
  },
})
