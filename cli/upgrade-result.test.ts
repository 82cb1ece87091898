import t from 'tap'
import { initHint } from './upgrade-result.js'

t.test('a pause that is mostly init gets a hint that says how to move it out', async (t) => {
  const hint = initHint({ outcome: 'committed', phases: { quiesce: 5, transfer: 20, init: 264 }, pauseMs: 299 })
  t.match(hint, /^hint: 264.0 ms of the 299.0 ms pause was the new version's init/)
  t.match(hint, /Keep init out of the pause/)
})

t.test('no hint for a short init, a small share of the pause, or an upgrade that did not commit', async (t) => {
  t.equal(initHint({ outcome: 'committed', phases: { init: 1.5 }, pauseMs: 29 }), null, 'short')
  t.equal(initHint({ outcome: 'committed', phases: { transfer: 400, init: 120 }, pauseMs: 560 }), null, 'the state, not init, is the pause')
  t.equal(initHint({ outcome: 'rolled-back', phases: { init: 300 }, pauseMs: 320 }), null, 'rolled back')
  t.equal(initHint({ outcome: 'committed', phases: {}, pauseMs: 300 }), null, 'no init measured')
})
