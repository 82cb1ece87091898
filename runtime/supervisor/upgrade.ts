// The upgrade state machine (DESIGN.md §4). Phases run in the order of
// PHASES (phases.ts); any failure before commit kills the new version and
// resumes the old one, which keeps serving with the state it had (guarantee 5).
// Every phase has a deadline (guarantee 6, deadlines.ts): one PhaseDeadline is
// armed per phase, and every wait of the phase ends when it passes; pre-copy's
// is pushed back on progress. Processes, clock, timers and paths are injected
// so this file is tested with fakes as well as for real.
import { DsuError, isDsuError, toWire, type ErrorCode, type WireError } from '../errors.js'
import type { ProgramMessage, RootManifest } from '../protocol.js'
import type { ProgramProcess, SpawnSpec } from './program-process.js'
import { ask } from './program-link.js'
import { activate } from './activation.js'
import { randomUUID } from 'node:crypto'
import { relayConnections, type ConnectionRelay } from './connection-relay.js'
import { newStreamToken } from '../transfer/stream-auth.js'
import { PhaseDeadline, realTimers, type Deadlines, type Timers } from './deadlines.js'
import type { Phase } from './phases.js'
import type { TransformerChoice } from '../transformer-choice.js'

export type { Phase } from './phases.js'

export interface UpgradeRequest {
  entry: string
  version: string
  /** What maps the state: a file, a chain directory, or a declared reverse (transformer-choice.ts). */
  transformer: TransformerChoice | null
  /** ms per phase; pre-copy's is the longest it may go without progress. */
  deadlines: Deadlines
}

export interface UpgradeEnv {
  spawn(spec: SpawnSpec): ProgramProcess
  now(): number
  /** Deadlines' timers; real ones by default. */
  timers?: Timers
  /** A fresh Unix socket path for one state stream. */
  streamPath(): string
  /** Listening handles the supervisor holds, by listen key. */
  listeners: Map<string, unknown>
  /** A handle the new version did not claim (activation.ts); default: closed. */
  unclaimed?: (key: string, handle: unknown) => void
  nodeArgs?: string[]
  /** Extra fields of the new version's spawn (its worker index under `--workers`). */
  spawnExtra?: Partial<SpawnSpec>
  /**
   * An atomic upgrade of several workers (fleet-upgrade.ts): awaited before
   * the old version quiesces ('quiesce': every new version booted) and before
   * the new one binds its sockets ('activate': every new version holds its
   * state). A rejection rolls this worker back, like any failure before commit.
   */
  barrier?(point: 'quiesce' | 'activate', signal: AbortSignal): Promise<void>
}

/** `worker`: which worker's upgrade, with `dsu run --workers N`. */
export type UpgradeEvent = (
  /** `phase` finished in `ms`; `next` is the phase that starts now (null: done). */
  | { event: 'phase'; phase: Phase; ms: number; next: Phase | null }
  | { event: 'rollback'; phase: Phase; error: WireError }
  | { event: 'failed'; phase: Phase; error: WireError }
) & { worker?: number }

export interface UpgradeResult {
  /**
   * 'failed': the old version died before the new one held the complete
   * state, so neither serves (DSU_ERR_OLD_VERSION_EXITED); the supervisor
   * then treats the death as a crash (restart policy).
   */
  outcome: 'committed' | 'rolled-back' | 'failed'
  from: string
  to: string
  phases: Partial<Record<Phase, number>>
  /** quiesce start → new version serving: the pause a client sees. */
  pauseMs: number | null
  totalMs: number
  state: { bytes: number; records: number; roots: number } | null
  /** `output`: the new version's last stderr lines, when the failure is its own. */
  error?: WireError & { phase: Phase; output?: string }
  /** The process that serves after the upgrade. */
  serving: ProgramProcess
  /** Connections moved from the old version to the new one at commit. */
  connectionsMoved: number
  /** env.now() when the old version was told to quiesce, and when the new one served (null: it did not). */
  quiescedAt?: number | null
  servingAt?: number | null
}

/**
 * Whether connections are sent ahead during the pause (connection-relay.ts);
 * DSU_MOVE_AHEAD=off (in the supervisor's environment) moves them all at commit.
 */
export function moveAhead(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.DSU_MOVE_AHEAD !== 'off'
}

/** How often the old version reports pre-copy progress, given the stall deadline. */
export function progressInterval(stallMs: number): number {
  return Math.max(1, Math.min(1000, Math.floor(stallMs / 4)))
}

export async function runUpgrade(
  old: ProgramProcess,
  request: UpgradeRequest,
  env: UpgradeEnv,
  report: (event: UpgradeEvent) => void = () => {},
): Promise<UpgradeResult> {
  const t0 = env.now()
  const timers = env.timers ?? realTimers
  const { deadlines } = request
  const phases: Partial<Record<Phase, number>> = {}
  let phase: Phase = 'spawn'
  let mark = t0
  let quiesceStart: number | null = null
  let quiesced = false
  let precopyStarted = false
  let stateStats: UpgradeResult['state'] = null
  // Ends every wait still pending when the upgrade ends, whichever way.
  const scope = new AbortController()
  // The old version dying is no rollback: nothing would serve. Until the new
  // version holds the complete state (it decoded the whole stream, DONE
  // counts checked), the death ends every wait at once, not at the next
  // deadline; from then on the upgrade goes on and commits.
  let oldDeath: DsuError | null = null
  // Transfer and transform share one wait (they end with one message); after
  // 'decoded' a failure belongs to the transform, for the output and journal.
  let transforming = false
  const named = (p: Phase): Phase => (p === 'transfer' && transforming ? 'transform' : p)
  let stateSecured = false
  const oldDied = new AbortController()
  const offOldExit = old.onExit((exit) => {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
    const now = named(phase)
    oldDeath = new DsuError('DSU_ERR_OLD_VERSION_EXITED', `${old.version} (pid ${old.pid}) ${how} during the upgrade, in phase ${now}`, { phase: now })
    if (!stateSecured) oldDied.abort(oldDeath)
  })
  let deadline: PhaseDeadline | null = null
  // Connections from the old version to the new one (connection-relay.ts).
  const aheadTag = randomUUID()
  let relay: ConnectionRelay | null = null
  /** Arms the deadline of the phase now running; returns the signal its waits end on. */
  const arm = (why: string, ms = deadlines[phase], code?: ErrorCode): AbortSignal => {
    deadline?.clear()
    deadline = new PhaseDeadline(timers, phase, ms, why, code)
    return AbortSignal.any([deadline.signal, scope.signal, oldDied.signal])
  }
  const finishPhase = (next: Phase | null, ms?: number): void => {
    const now = env.now()
    phases[phase] = ms ?? now - mark
    report({ event: 'phase', phase, ms: phases[phase]!, next })
    mark = now
    if (next) phase = next
  }

  // Requests still open when the upgrade ends: their late replies are dropped.
  const requests: Array<{ close(): void }> = []
  let signal = arm('the old version did not send its manifest')
  // Names, kinds and counts of the old roots, so the new version can run
  // pre-flight checks before the old one pauses. Cheap: no values.
  const manifestReply = ask(old, { dsu: 'manifest' }, 'manifest', { signal, phase, exitCode: 'DSU_ERR_PROGRAM_EXITED' })
  let manifest: RootManifest[] | undefined
  try {
    manifest = (await manifestReply).roots
  } catch {
    manifest = undefined // an old runtime without manifests: pre-flight runs without roots
  }
  signal = arm('the new version did not boot') // the boot gets the whole spawn deadline
  const next = env.spawn({
    entry: request.entry,
    version: request.version,
    role: 'successor',
    from: old.version,
    manifest,
    transformer: request.transformer,
    listeners: [...env.listeners.keys()],
    nodeArgs: env.nodeArgs,
    ...env.spawnExtra,
  })
  try {
    await next.milestone('booted', { signal, phase, exitCode: 'DSU_ERR_SPAWN_FAILED' })
    const precopy = manifest?.some((root) => root.precopy) ?? false

    const path = env.streamPath()
    // Only the two versions learn the stream's token (transfer/stream-auth.ts).
    const token = newStreamToken()
    // The new version listens for the state stream before the old one pauses,
    // pre-copy or not: the pause then carries no round trip to open it.
    const stream = next.request({ dsu: 'receive-state', path, token, from: old.version, to: request.version })
    requests.push(stream)
    await stream.reply('receiving', { signal, phase })
    finishPhase(precopy ? 'precopy' : 'quiesce')
    let sent: Promise<{ records: number; roots: number }>
    let restored: Promise<Extract<ProgramMessage, { dsu: 'restored' }>>
    if (precopy) {
      // Pre-copy: the old version streams its opted-in roots while it still
      // serves; the pause only carries what changed since, and the rest. Its
      // deadline is a stall deadline: every progress report pushes it back.
      signal = arm('pre-copy made no progress')
      // The receiver's outcome, watched from here on: its failure (a
      // transformer that threw…) ends the pre-copy early. Bounded later by
      // the deadline of the phase that awaits it.
      restored = stream.reply('restored', { signal: scope.signal, phase })
      restored.catch(() => {})
      const stall = deadline!
      const sending = old.request({ dsu: 'send-state', path, token, precopy: true, progressMs: progressInterval(deadlines.precopy) })
      requests.push(sending)
      precopyStarted = true
      const progress = sending.onReply((message) => {
        if (message.dsu === 'precopy-progress') stall.extend()
      })
      try {
        const precopied = sending.reply('precopied', { signal, phase, exitCode: 'DSU_ERR_PROGRAM_EXITED' })
        const { bytes } = await Promise.race([precopied, restored.then(() => ({ bytes: 0 }))])
        // The new version decodes what is still buffered: at most the sender's
        // window, so a fresh stall deadline covers it.
        stall.extend()
        const caughtUp = ask(next, { dsu: 'await-bytes', bytes }, 'caught-up', { signal, phase })
        await Promise.race([caughtUp, restored])
      } finally {
        progress()
      }
      finishPhase('quiesce')
    }

    if (env.barrier) {
      // Atomic: no worker pauses before every new version has booted. The
      // wait is not the quiesce phase's: it ends before the pause starts.
      signal = arm('the other workers\' new versions did not boot', deadlines.spawn)
      await env.barrier('quiesce', signal)
      mark = env.now()
    }
    // The old version enforces the quiesce deadline itself and resumes; the
    // margin here only covers a process that stopped answering.
    signal = arm('the old version did not answer', deadlines.quiesce + 1000)
    // Once quiesced, the old version sends its frozen connections ahead,
    // while the state is transferred; they are forwarded as they come.
    const ahead = moveAhead()
    relay = relayConnections(old, next, aheadTag, ahead)
    quiesceStart = env.now()
    const quiescing = ask(old, { dsu: 'quiesce', timeoutMs: deadlines.quiesce, ...(ahead ? { moveAhead: aheadTag } : {}) }, 'quiesced', { signal, phase, exitCode: 'DSU_ERR_PROGRAM_EXITED' })
    quiesced = true
    await quiescing
    finishPhase('transfer')

    // Transfer and transform end with one message ('restored'); 'decoded'
    // between them hands the deadline from the transfer to the transform.
    signal = arm('the state was not transferred')
    const transfer = deadline!
    const onDecoded = (message: { dsu: string }): void => {
      if (message.dsu !== 'decoded') return
      stateSecured = true // the whole stream is in the new version; the transformer runs on it
      transforming = true
      transfer.retarget('transform', deadlines.transform, 'the transformer did not finish')
    }
    let decoded = (): void => {}
    if (precopy) {
      decoded = stream.onReply(onDecoded)
      sent = ask(old, { dsu: 'finish-state' }, 'sent', { signal, phase, exitCode: 'DSU_ERR_PROGRAM_EXITED' })
    } else {
      decoded = stream.onReply(onDecoded)
      restored = stream.reply('restored', { signal, phase })
      sent = ask(old, { dsu: 'send-state', path, token }, 'sent', { signal, phase, exitCode: 'DSU_ERR_PROGRAM_EXITED' })
    }
    // Not `.finally(decoded)`: the unsubscriber returns the child process, an
    // execa promise, which finally() would wait on until the process exits.
    const [sentResult, restoredResult] = await Promise.allSettled([sent, until(restored!, signal)]).finally(() => void decoded())
    const senderError = sentResult.status === 'rejected' ? sentResult.reason : null
    const isStream = (e: unknown): boolean => isDsuError(e, 'DSU_ERR_STATE_STREAM')
    // The sender's own error (an unserializable value, with its path) says
    // most. A sender that only saw the socket break is explained by the
    // receiver: its error if it failed (a transformer that threw, then it
    // exited), nothing if it verified the whole stream (DONE counts match).
    // A sender that died once the receiver had verified everything left nothing out.
    const diedAfterSending = oldDeath !== null && restoredResult.status === 'fulfilled'
    if (senderError && !isStream(senderError) && !diedAfterSending) throw senderError
    if (restoredResult.status === 'rejected') {
      const error = restoredResult.reason
      if (['DSU_ERR_TRANSFORM_FAILED', 'DSU_ERR_TRANSFORMER_INVALID', 'DSU_ERR_TRANSFORM_RULE', 'DSU_ERR_VALIDATION', 'DSU_ERR_UNDECLARED_ROOT']
        .some((code) => isDsuError(error, code as never))) {
        phase = 'transform'
        error.phase = phase
      }
      throw error
    }
    const r = restoredResult.value
    // What the new version restored must be what the old version sent.
    if (sentResult.status === 'fulfilled' && (sentResult.value.records !== r.records || sentResult.value.roots !== r.roots)) {
      throw new DsuError('DSU_ERR_STATE_STREAM', `the new version restored ${r.roots} roots / ${r.records} records, but the old version sent ${sentResult.value.roots} / ${sentResult.value.records}`)
    }
    stateStats = { bytes: r.bytes, records: r.records, roots: r.roots }
    // The new version holds the whole state, verified: should the old version
    // die now, the upgrade still commits (it loses only its open connections).
    stateSecured = true
    const transferMs = env.now() - mark - r.transformMs
    finishPhase('transform', transferMs)
    finishPhase('init', r.transformMs)

    // Init: the new version's own code after its state() calls resolved, up
    // to re-binding its listeners (or calling ready()). It runs in the pause;
    // the README shows how to move it before state().
    signal = arm('the new version did not re-bind its listeners or call ready()', deadlines.init, 'DSU_ERR_READY_TIMEOUT')
    await next.milestone('ready', { signal, phase })
    finishPhase('ready')

    if (env.barrier) {
      // Atomic: no new version serves before every one holds its state; the
      // wait is in the pause, counted in ready.
      signal = arm('the other workers did not get their state', deadlines.quiesce + deadlines.transfer + deadlines.transform + deadlines.init)
      await env.barrier('activate', signal)
    }
    // Ready: the new version binds the inherited listening sockets. Until it
    // answers, the old version still holds every connection and can resume.
    signal = arm('the new version did not bind its listening sockets')
    await activate(next, env.listeners, { signal, phase }, env.unclaimed)
    const pauseEnd = env.now()
    finishPhase('commit')

    // Point of no return: the old version moves its connections and exits.
    signal = arm('the old version did not hand off its connections')
    const handedOff = ask(old, { dsu: 'commit' }, 'handed-off', { signal, phase })
    let connectionsMoved = 0
    try {
      connectionsMoved = (await handedOff).connections
    } catch {
      old.kill('SIGKILL') // committed already; a stuck old version must not linger
      // The connections it sent ahead cannot be adopted without its word: closed.
      void next.send({ dsu: 'adopt-ahead', tag: aheadTag, connections: [] })
    } finally {
      relay.stop()
    }
    finishPhase(null)
    return {
      outcome: 'committed', from: old.version, to: request.version, phases,
      pauseMs: pauseEnd - quiesceStart, totalMs: env.now() - t0, state: stateStats,
      serving: next, connectionsMoved, quiescedAt: quiesceStart, servingAt: pauseEnd,
    }
  } catch (cause) {
    next.kill('SIGKILL')
    if (oldDeath !== null) {
      // Whichever wait noticed it first, the truth is that the old version died.
      const error: DsuError = oldDeath
      const wire = { ...toWire(error), phase: (error.phase as Phase | undefined) ?? phase }
      report({ event: 'failed', phase: wire.phase, error: wire })
      return {
        outcome: 'failed', from: old.version, to: request.version, phases,
        pauseMs: quiesceStart === null ? null : env.now() - quiesceStart, totalMs: env.now() - t0,
        state: stateStats, error: wire, serving: old, connectionsMoved: 0,
      }
    }
    relay?.drain()
    // 'resume' also stops a pre-copy (tracking, stream) that was under way.
    if (quiesced || precopyStarted) void old.send({ dsu: 'resume' })
    const error = isDsuError(cause) ? cause : new DsuError('DSU_ERR_INTERNAL', String(cause), { cause })
    // Waits armed in transfer that end while the transformer runs failed in transform.
    const failedPhase = named((error.phase as Phase | undefined) ?? phase)
    const wire: WireError & { phase: Phase; output?: string } = { ...toWire(error), phase: failedPhase }
    const rolledBack: UpgradeResult = {
      outcome: 'rolled-back', from: old.version, to: request.version, phases,
      pauseMs: quiesceStart === null ? null : env.now() - quiesceStart, totalMs: env.now() - t0,
      state: stateStats, error: wire, serving: old, connectionsMoved: 0,
    }
    // The new version's stack trace says why, unless the old version failed.
    // Read once it has died (the timings above do not include the wait).
    const oldFailed = ['DSU_ERR_QUIESCE_TIMEOUT', 'DSU_ERR_UNSERIALIZABLE', 'DSU_ERR_PROGRAM_EXITED', 'DSU_ERR_WORKER_ROLLED_BACK'].includes(wire.code)
    const output = oldFailed ? '' : await next.recentStderr?.()
    if (output) wire.output = output
    report({ event: 'rollback', phase: failedPhase, error: wire })
    return rolledBack
  } finally {
    for (const open of requests) open.close()
    offOldExit()
    ;(deadline as PhaseDeadline | null)?.clear() // assigned in arm(), which TS does not follow
    scope.abort(new DsuError('DSU_ERR_INTERNAL', 'the upgrade ended'))
  }
}

/** `promise`, or the reason `signal` aborts with, whichever comes first. */
function until<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
