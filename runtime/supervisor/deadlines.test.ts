// Per-phase deadlines: what a deadline value may be, how overrides combine,
// and a PhaseDeadline's timer (pushed back on progress, handed to the next phase).
import t from 'tap'
import { deadlinesProblem, everyPhase, MAX_DEADLINE_MS, PhaseDeadline, withOverrides, type Timers } from './deadlines.js'

/** Timers that fire only when the test calls fire(); records what was armed. */
function manualTimers() {
  const armed: Array<{ fn: () => void; ms: number; phase?: string; cancelled: boolean }> = []
  const timers: Timers = {
    after(fn, ms, phase) {
      const timer = { fn, ms, phase, cancelled: false }
      armed.push(timer)
      return () => { timer.cancelled = true }
    },
  }
  const live = () => armed.filter((a) => !a.cancelled)
  return { timers, armed, live, fire: () => live().forEach((a) => a.fn()) }
}

t.test('deadlinesProblem names the phase and what is wrong', async (t) => {
  t.equal(deadlinesProblem({ precopy: 120_000, quiesce: 5000 }), null)
  t.equal(deadlinesProblem({}), null)
  t.match(deadlinesProblem({ warmup: 1 }), /unknown phase "warmup"/)
  t.match(deadlinesProblem({ init: 0 }), /init must be a positive duration/)
  t.match(deadlinesProblem({ init: Number.NaN }), /init must be a positive duration/)
  t.match(deadlinesProblem({ ready: MAX_DEADLINE_MS + 1 }), /ready must be at most 2147483647 ms/)
  t.match(deadlinesProblem([1]), /must be an object/)
})

t.test('overrides replace only the phases they name', async (t) => {
  const base = withOverrides(everyPhase(10_000), { precopy: 600_000 })
  t.same(withOverrides(base, { quiesce: 5000 }), { ...everyPhase(10_000), precopy: 600_000, quiesce: 5000 })
  t.same(withOverrides(base, undefined), base)
})

t.test('a phase deadline aborts with a named error; extend() starts it again; clear() stops it', async (t) => {
  const m = manualTimers()
  const d = new PhaseDeadline(m.timers, 'precopy', 100, 'pre-copy made no progress')
  t.same(m.live().map((a) => [a.ms, a.phase]), [[100, 'precopy']])
  d.extend()
  t.equal(m.live().length, 1, 'the earlier timer was cancelled')
  m.fire()
  t.equal(d.signal.aborted, true)
  t.match(d.signal.reason, { code: 'DSU_ERR_PHASE_TIMEOUT', phase: 'precopy', message: /^precopy: pre-copy made no progress within 100 ms; raise it with --timeout precopy=<duration>$/ })

  const cleared = new PhaseDeadline(m.timers, 'init', 50, 'x')
  cleared.clear()
  t.equal(m.live().filter((a) => a.phase === 'init').length, 0)
})

t.test('retarget() hands the same signal to the next phase, with its own duration and code', async (t) => {
  const m = manualTimers()
  const d = new PhaseDeadline(m.timers, 'transfer', 500, 'the state was not transferred')
  d.retarget('transform', 30, 'the transformer did not finish')
  t.same(m.live().map((a) => [a.ms, a.phase]), [[30, 'transform']])
  m.fire()
  t.match(d.signal.reason, { phase: 'transform', message: /^transform: the transformer did not finish within 30 ms/ })
})

t.test('a deadline longer than a timer can hold is clamped, not fired at once', async (t) => {
  const m = manualTimers()
  new PhaseDeadline(m.timers, 'quiesce', MAX_DEADLINE_MS + 1000, 'x').clear()
  t.equal(m.armed[0]!.ms, MAX_DEADLINE_MS)
})
