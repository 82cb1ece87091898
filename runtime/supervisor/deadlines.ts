// Deadlines of an upgrade, one per phase (guarantee 6: every phase has one).
// One structured value, `Deadlines`, travels from `--timeout` (cli/timeouts.ts
// parses it) over the control socket (control-protocol.ts checks it with
// `deadlinesProblem`) to the state machine, which arms one `PhaseDeadline` per
// phase on an injected clock. Pre-copy's deadline is a stall deadline: it is
// pushed back whenever the stream makes progress, so a large state that keeps
// moving is never cut off, and a stream that stopped moving is.
import { DsuError, type ErrorCode } from '../errors.js'
import { isPhase, PHASES, type Phase } from './phases.js'

export type Deadlines = Record<Phase, number>

export const DEFAULT_DEADLINE_MS = 10_000
/** setTimeout's limit: a longer delay fires at once. */
export const MAX_DEADLINE_MS = 2 ** 31 - 1

export function everyPhase(ms: number): Deadlines {
  return Object.fromEntries(PHASES.map((p) => [p, ms])) as Deadlines
}

export const DEFAULT_DEADLINES: Readonly<Deadlines> = everyPhase(DEFAULT_DEADLINE_MS)

/** Why `ms` cannot be a deadline, or null when it can. */
export function deadlineProblem(ms: unknown): string | null {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return 'must be a positive duration'
  if (ms > MAX_DEADLINE_MS) return `must be at most ${MAX_DEADLINE_MS} ms (about 24.8 days)`
  return null
}

/** Why `value` is not a set of per-phase deadlines ({ phase: ms }), or null. */
export function deadlinesProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object of phase → ms'
  for (const [phase, ms] of Object.entries(value)) {
    if (!isPhase(phase)) return `unknown phase ${JSON.stringify(phase)} (phases: ${PHASES.join(', ')})`
    const problem = deadlineProblem(ms)
    if (problem) return `${phase} ${problem}`
  }
  return null
}

/** `base` with the phases `override` names replaced. */
export function withOverrides(base: Readonly<Deadlines>, override: Partial<Deadlines> | undefined): Deadlines {
  return { ...base, ...override }
}

/** Timers, injected so the state machine's deadlines run on a fake clock in tests. */
export interface Timers {
  /** Calls `fn` after `ms`; returns a function that cancels it. `phase` names whose deadline it is. */
  after(fn: () => void, ms: number, phase?: Phase): () => void
}

export const realTimers: Timers = {
  after(fn, ms) {
    const timer = setTimeout(fn, ms)
    return () => clearTimeout(timer)
  },
}

/**
 * One phase's deadline: `signal` aborts with a DsuError naming the phase when
 * it passes. `extend()` starts it again from now (progress was made);
 * `retarget()` hands the same signal on to the next phase of one wait.
 */
export class PhaseDeadline {
  private readonly controller = new AbortController()
  private cancel: () => void = () => {}
  readonly signal: AbortSignal

  constructor(
    private readonly timers: Timers,
    private phase: Phase,
    private ms: number,
    private why: string,
    private readonly code: ErrorCode = 'DSU_ERR_PHASE_TIMEOUT',
  ) {
    this.signal = this.controller.signal
    this.extend()
  }

  extend(): void {
    this.cancel()
    if (this.signal.aborted) return
    const { phase, ms, why, code } = this
    this.cancel = this.timers.after(() => {
      this.controller.abort(new DsuError(code, `${phase}: ${why} within ${ms} ms; raise it with --timeout ${phase}=<duration>`, { phase }))
    }, Math.min(ms, MAX_DEADLINE_MS), phase)
  }

  retarget(phase: Phase, ms: number, why: string): void {
    Object.assign(this, { phase, ms, why })
    this.extend()
  }

  clear(): void {
    this.cancel()
  }
}
