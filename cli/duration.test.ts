import t from 'tap'
import { parseDuration } from './duration.js'

t.test('durations', async (t) => {
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('30s'), 30_000)
  t.equal(parseDuration('1.5m'), 90_000)
  t.equal(parseDuration('2h'), 7_200_000)
  t.equal(parseDuration('250'), 250)
  t.equal(parseDuration(40), 40)
  for (const bad of ['', 'soon', '-1s', '0', '5d', '1e3']) t.equal(parseDuration(bad), null, bad)
  // Beyond what a timer can wait, setTimeout would fire at once: refused.
  t.equal(parseDuration('596h'), 596 * 3_600_000)
  t.equal(parseDuration('600h'), null)
  t.equal(parseDuration(2 ** 31), null)
  t.equal(parseDuration(2 ** 31 - 1), 2 ** 31 - 1)
})
