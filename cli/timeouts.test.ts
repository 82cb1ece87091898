// `--timeout` parsing: one duration, per-phase durations, both; what is refused.
import t from 'tap'
import { everyPhase } from '../runtime/supervisor/deadlines.js'
import { parseTimeouts } from './timeouts.js'

t.test('one duration for every phase; plain numbers are milliseconds', async (t) => {
  t.same(parseTimeouts('10s'), { all: 10_000, deadlines: everyPhase(10_000) })
  t.same(parseTimeouts('2500'), { all: 2500, deadlines: everyPhase(2500) })
  t.same(parseTimeouts(2500), { all: 2500, deadlines: everyPhase(2500) })
})

t.test('per phase: only the phases named, the others keep their default', async (t) => {
  t.same(parseTimeouts('precopy=120s,quiesce=5s'), { all: null, deadlines: { precopy: 120_000, quiesce: 5000 } })
  t.same(parseTimeouts(' init = 1m '), { all: null, deadlines: { init: 60_000 } })
})

t.test('both: a duration for every phase, with some phases named', async (t) => {
  t.same(parseTimeouts('precopy=2m,20s'), { all: 20_000, deadlines: { ...everyPhase(20_000), precopy: 120_000 } })
})

t.test('refused with DSU_ERR_USAGE naming the bad part', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    ['warmup=5s', /"warmup=5s": unknown phase "warmup" \(phases: spawn, precopy, quiesce, transfer, transform, init, ready, commit\)/],
    ['precopy=0', /"precopy=0": must be a positive duration/],
    ['quiesce=-5s', /"quiesce=-5s": must be a positive duration/],
    ['0', /"0": must be a positive duration/],
    ['precopy=soon', /"precopy=soon": "soon" is not a duration/],
    ['25d', /"25d": "25d" is not a duration/],
    ['600h', /"600h": must be at most 2147483647 ms/],
    ['2147483648', /"2147483648": must be at most 2147483647 ms/],
    ['quiesce=5s,quiesce=6s', /"quiesce=6s": quiesce was given twice/],
    ['5s,6s', /"6s": one duration for every phase was given already/],
    ['precopy=5s,', /an empty part/],
    [['5s', '6s'], /was given more than once/],
  ]
  for (const [value, message] of bad) {
    t.throws(() => parseTimeouts(value), { code: 'DSU_ERR_USAGE', message }, String(value))
  }
  t.same(parseTimeouts('2147483647'), { all: 2 ** 31 - 1, deadlines: everyPhase(2 ** 31 - 1) }, 'the largest accepted')
})
