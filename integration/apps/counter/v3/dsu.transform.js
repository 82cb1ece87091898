// counter 2.0.0 -> 3.0.0: the root `counters` is now called `tallies`.
import { transformer, renameRoot } from 'dsu/transformers'

export default transformer({
  from: '2.0.0',
  to: '3.0.0',
  rules: [renameRoot('counters', 'tallies')],
  declared: ['tallies'],
})
