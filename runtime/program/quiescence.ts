// Quiescence: the point where the old version does no work at all, so the
// state captured next is final (guarantee 2, atomic switch). The program is
// quiet when no request is in flight, no transaction runs, every open
// connection is frozen between requests, and its own timers are paused.
import { DsuError } from '../errors.js'

export type QuiescePurpose = 'upgrade' | 'snapshot'

/** Something that can stop taking new work and say when it is idle. */
export interface Participant {
  /**
   * Stop accepting new work; called once when quiescence starts. `purpose`:
   * an upgrade (the program's connections then move or close) or a snapshot
   * (a checkpoint or `dsu check`: the program resumes right after).
   */
  stop(purpose: QuiescePurpose): void
  /** Freeze what is idle now; true when everything it owns is frozen. */
  settle(): boolean
  /** Undo stop() and settle(): the upgrade rolled back. */
  resume(): void
  /** What it still waits for, for the timeout message; null when nothing. */
  busy?(): string | null
}

const participants = new Set<Participant>()
const pauseHooks = new Set<() => void>()
const quiescedHooks = new Set<() => void>()
const resumeHooks = new Set<() => void>()
let inflight = 0
let paused = false
let parked: Array<() => void> = []
let recheck: (() => void) | null = null
/** Cancels the quiescence under way (a resume arrived before it finished). */
let cancelPending: ((error: Error) => void) | null = null

// Two stages of a pause. While quiescing, work already started (a request
// awaiting a transaction) must be able to finish, so transactions still run
// and are waited for; once quiesced nothing is in flight, and new
// transactions wait for the outcome. (Tracking which request a transaction
// belongs to would need AsyncLocalStorage, whose cost every request would pay.)
let quiesced = false

export function addParticipant(p: Participant): void {
  participants.add(p)
}

/** Counts one unit of work (a request, a transaction) until `done` runs. */
export function begin(): () => void {
  inflight++
  let ended = false
  return () => {
    if (ended) return
    ended = true
    inflight--
    recheck?.()
  }
}

/** begin() without a closure, for work counted per request: one endWork() per beginWork(). */
export function beginWork(): void {
  inflight++
}

export function endWork(): void {
  inflight--
  recheck?.()
}

/**
 * Runs `fn` as one unit an upgrade never splits: quiescence waits for it.
 * Started once the program is quiesced, it waits for the outcome (rollback:
 * runs; commit: never runs here).
 */
export async function transaction<T>(fn: () => T | Promise<T>): Promise<T> {
  if (quiesced) await new Promise<void>((resolve) => parked.push(resolve))
  const done = begin()
  try {
    return await fn()
  } finally {
    done()
  }
}

/**
 * A safe place for a long-running loop to be stopped for an upgrade: waits
 * while the program is paused. For loops, not request handlers (a request
 * waiting here would hold up the quiescence it waits for).
 */
export function updatePoint(): Promise<void> {
  if (!paused) return Promise.resolve()
  return new Promise((resolve) => parked.push(resolve))
}

export function onPause(fn: () => void): () => void {
  pauseHooks.add(fn)
  return () => pauseHooks.delete(fn)
}

/**
 * Runs `fn` once the program is quiet (no request in flight, no transaction,
 * connections frozen), right before its state is captured for an upgrade or
 * a checkpoint: the place to copy a library object's contents into a marked
 * root ("dehydrate"). onPause runs earlier, when quiescence starts, while
 * in-flight requests may still change state.
 */
export function onQuiesced(fn: () => void): () => void {
  quiescedHooks.add(fn)
  return () => quiescedHooks.delete(fn)
}

export function onResume(fn: () => void): () => void {
  resumeHooks.add(fn)
  return () => resumeHooks.delete(fn)
}

// A hook that throws must neither crash the serving version nor leave it paused.
function runHooks(hooks: Set<() => void>, which: string): DsuError | null {
  for (const hook of hooks) {
    try {
      hook()
    } catch (cause) {
      return new DsuError('DSU_ERR_QUIESCE_TIMEOUT', `an ${which} hook threw: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    }
  }
  return null
}

/** Stops all work; resolves once quiet, rejects (after resuming) at the deadline. */
export function quiesce(timeoutMs: number, purpose: QuiescePurpose = 'upgrade'): Promise<void> {
  if (paused) return Promise.reject(new DsuError('DSU_ERR_INTERNAL', 'quiesce requested twice'))
  paused = true
  const hookError = runHooks(pauseHooks, 'onPause')
  if (hookError) {
    resume()
    return Promise.reject(hookError)
  }
  for (const p of participants) p.stop(purpose)
  return new Promise((resolve, reject) => {
    let poll: NodeJS.Timeout | undefined
    const finish = (error?: Error, alreadyResumed = false): void => {
      recheck = null
      cancelPending = null
      clearTimeout(deadline)
      clearTimeout(poll)
      if (!error) {
        quiesced = true
        // Nothing runs between these hooks and the capture: what they write is final.
        const hookError = runHooks(quiescedHooks, 'onQuiesced')
        if (!hookError) return resolve()
        error = hookError
      }
      if (!alreadyResumed) resume()
      reject(error)
    }
    const deadline = setTimeout(() => {
      finish(new DsuError('DSU_ERR_QUIESCE_TIMEOUT',
        `the old version was still busy after ${timeoutMs} ms (${describeBusy()})`))
    }, timeoutMs)
    const check = (): void => {
      // Participants first: settling may release work that no longer counts
      // as in flight (a long-lived response).
      let quiet = true
      for (const p of participants) quiet = p.settle() && quiet
      if (quiet && inflight === 0) return finish()
      // Events (a response ending, a connection closing) call check(); the
      // short poll catches a parser going idle, which emits no event.
      clearTimeout(poll)
      poll = setTimeout(check, 1)
    }
    recheck = () => setImmediate(() => recheck && check())
    cancelPending = (error) => finish(error, true)
    check()
  })
}

export function resume(): void {
  if (!paused) return
  // A quiescence still waiting must stop freezing connections first.
  cancelPending?.(new DsuError('DSU_ERR_QUIESCE_TIMEOUT', 'resumed before quiescence was reached'))
  paused = false
  quiesced = false
  for (const p of participants) p.resume()
  const waiting = parked
  parked = []
  for (const release of waiting) release()
  const hookError = runHooks(resumeHooks, 'onResume')
  if (hookError) process.emitWarning(hookError.message, { code: hookError.code })
}

function describeBusy(): string {
  const parts = [inflight === 1 ? '1 request or transaction in flight' : `${inflight} requests or transactions in flight`]
  for (const p of participants) {
    const busy = p.busy?.()
    if (busy) parts.push(busy)
  }
  return parts.join(', ')
}

export function inflightCount(): number {
  return inflight
}
