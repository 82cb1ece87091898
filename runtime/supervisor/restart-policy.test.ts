import t from 'tap'
import { DEFAULT_RESTART, nextRestart } from './restart-policy.js'

const onFailure = { ...DEFAULT_RESTART, mode: 'on-failure' as const }

t.test('no restart unless asked', async (t) => {
  t.equal(nextRestart(DEFAULT_RESTART, [0], 1), null)
  t.equal(nextRestart(onFailure, [0], 0), null, 'a clean exit is not a failure')
  t.equal(nextRestart({ ...onFailure, mode: 'always' }, [0], 0), 100)
})

t.test('the delay doubles and is capped', async (t) => {
  t.equal(nextRestart(onFailure, [0], 1), 100)
  t.equal(nextRestart(onFailure, [0, 10], 1), 200)
  t.equal(nextRestart(onFailure, [0, 10, 20], 1), 400)
  t.equal(nextRestart({ ...onFailure, maxDelayMs: 300, maxRestarts: 10 }, [0, 10, 20, 30], 1), 300)
})

t.test('a crash loop gives up; old crashes are forgotten', async (t) => {
  t.equal(nextRestart(onFailure, [0, 1, 2, 3, 4], 1), 1600, 'the fifth crash in the window is still restarted')
  t.equal(nextRestart(onFailure, [0, 1, 2, 3, 4, 5], 1), null, 'the sixth is a loop')
  t.equal(nextRestart(onFailure, [0, 1, 2, 3, 4, 70_000], 1), 100, 'crashes outside the window do not count')
})
