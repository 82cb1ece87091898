// The upgrade state machine (DESIGN.md §4). Phases run in order; any failure
// before commit kills the new version and resumes the old one, which keeps
// serving with the state it had (guarantee 5). Every wait has a deadline
// (guarantee 6). Processes, clock and paths are injected so this file is
// tested with fakes as well as for real.
import { DsuError, isDsuError, toWire, type WireError } from '../errors.js'
import type { ProgramMessage, RootManifest } from '../protocol.js'
import type { ProgramProcess, SpawnSpec } from './program-process.js'
import { waitFor } from './program-process.js'
import { activate } from './activation.js'
import { newStreamToken } from '../transfer/stream-auth.js'

export type Phase = 'spawn' | 'precopy' | 'quiesce' | 'transfer' | 'transform' | 'ready' | 'commit'

export interface UpgradeRequest {
  entry: string
  version: string
  transformer: string | null
  /** A directory of per-version-pair transformers to compose a chain from. */
  transformers?: string | null
  timeoutMs: number
}

export interface UpgradeEnv {
  spawn(spec: SpawnSpec): ProgramProcess
  now(): number
  /** A fresh Unix socket path for one state stream. */
  streamPath(): string
  /** Listening handles the supervisor holds, by listen key. */
  listeners: Map<string, unknown>
  nodeArgs?: string[]
}

export type UpgradeEvent =
  | { event: 'phase'; phase: Phase; ms: number }
  | { event: 'rollback'; phase: Phase; error: WireError }

export interface UpgradeResult {
  outcome: 'committed' | 'rolled-back'
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
}

export async function runUpgrade(
  old: ProgramProcess,
  request: UpgradeRequest,
  env: UpgradeEnv,
  report: (event: UpgradeEvent) => void = () => {},
): Promise<UpgradeResult> {
  const t0 = env.now()
  const phases: Partial<Record<Phase, number>> = {}
  let phase: Phase = 'spawn'
  let mark = t0
  let quiesceStart: number | null = null
  let quiesced = false
  let precopyStarted = false
  let stateStats: UpgradeResult['state'] = null
  const timeoutMs = request.timeoutMs
  const finishPhase = (next: Phase | null, ms?: number): void => {
    const now = env.now()
    phases[phase] = ms ?? now - mark
    report({ event: 'phase', phase, ms: phases[phase]! })
    mark = now
    if (next) phase = next
  }

  old.clearInbox()
  // Names, kinds and counts of the old roots, so the new version can run
  // pre-flight checks before the old one pauses. Cheap: no values.
  const manifestReply = waitFor(old, 'manifest', { timeoutMs, phase, exitCode: 'DSU_ERR_PROGRAM_EXITED' })
  void old.send({ dsu: 'manifest' })
  let manifest: RootManifest[] | undefined
  try {
    manifest = (await manifestReply).roots
  } catch {
    manifest = undefined // an old runtime without manifests: pre-flight runs without roots
  }
  const next = env.spawn({
    entry: request.entry,
    version: request.version,
    role: 'successor',
    from: old.version,
    manifest,
    transformer: request.transformer,
    transformers: request.transformers ?? null,
    listeners: [...env.listeners.keys()],
    nodeArgs: env.nodeArgs,
  })
  try {
    await waitFor(next, 'booted', { timeoutMs, phase, failures: ['restore-failed'], exitCode: 'DSU_ERR_SPAWN_FAILED' })
    const precopy = manifest?.some((root) => root.precopy) ?? false
    finishPhase(precopy ? 'precopy' : 'quiesce')

    const path = env.streamPath()
    // Only the two versions learn the stream's token (transfer/stream-auth.ts).
    const token = newStreamToken()
    const openStream = async (): Promise<void> => {
      const receiving = waitFor(next, 'receiving', { timeoutMs, phase, failures: ['restore-failed'] })
      void next.send({ dsu: 'receive-state', path, token, from: old.version, to: request.version })
      await receiving
    }
    let sent: Promise<{ records: number; roots: number }>
    let restored: Promise<Extract<ProgramMessage, { dsu: 'restored' }>>
    if (precopy) {
      // Pre-copy: the old version streams its opted-in roots while it still
      // serves; the pause only carries what changed since, and the rest.
      await openStream()
      // Spans pre-copy, catch-up, quiesce and transfer, each with its own deadline.
      restored = waitFor(next, 'restored', { timeoutMs: timeoutMs * 4 + 1000, phase, failures: ['restore-failed'] })
      restored.catch(() => {})
      const precopied = waitFor(old, 'precopied', { timeoutMs, phase, failures: ['send-failed'], exitCode: 'DSU_ERR_PROGRAM_EXITED' })
      precopyStarted = true
      void old.send({ dsu: 'send-state', path, token, precopy: true })
      const { bytes } = await Promise.race([precopied, restored.then(() => ({ bytes: 0 }))])
      const caughtUp = waitFor(next, 'caught-up', { timeoutMs, phase, failures: ['restore-failed'] })
      void next.send({ dsu: 'await-bytes', bytes })
      await Promise.race([caughtUp, restored])
      finishPhase('quiesce')
    }

    quiesceStart = env.now()
    void old.send({ dsu: 'quiesce', timeoutMs })
    quiesced = true
    // The old version enforces the quiesce deadline itself and resumes; the
    // margin here only covers a process that stopped answering.
    await waitFor(old, 'quiesced', { timeoutMs: timeoutMs + 1000, phase, failures: ['quiesce-failed'], exitCode: 'DSU_ERR_PROGRAM_EXITED' })
    finishPhase('transfer')

    if (precopy) {
      sent = waitFor(old, 'sent', { timeoutMs, phase, failures: ['send-failed'], exitCode: 'DSU_ERR_PROGRAM_EXITED' })
      void old.send({ dsu: 'finish-state' })
    } else {
      await openStream()
      sent = waitFor(old, 'sent', { timeoutMs, phase, failures: ['send-failed'], exitCode: 'DSU_ERR_PROGRAM_EXITED' })
      restored = waitFor(next, 'restored', { timeoutMs, phase, failures: ['restore-failed'] })
      void old.send({ dsu: 'send-state', path, token })
    }
    const [sentResult, restoredResult] = await Promise.allSettled([sent, restored!])
    const senderError = sentResult.status === 'rejected' ? sentResult.reason : null
    const isStream = (e: unknown): boolean => isDsuError(e, 'DSU_ERR_STATE_STREAM')
    // The sender's own error (an unserializable value, with its path) says
    // most. A sender that only saw the socket break is explained by the
    // receiver: its error if it failed (a transformer threw, then it exited),
    // nothing if it verified the whole stream (DONE counts match).
    if (senderError && !isStream(senderError)) throw senderError
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
    const transferMs = env.now() - mark - r.transformMs
    finishPhase('transform', transferMs)
    finishPhase('ready', r.transformMs)

    await waitFor(next, 'ready', { timeoutMs, phase, failures: ['restore-failed'], timeoutCode: 'DSU_ERR_READY_TIMEOUT' })
    finishPhase('commit')

    // Activation: the new version binds the inherited listening sockets. Until
    // it answers, the old version still holds every connection and can resume.
    await activate(next, env.listeners, timeoutMs, phase)
    const pauseEnd = env.now()

    // Point of no return: the old version moves its connections and exits.
    const relay = old.onMessage((message, handle) => {
      if (message.dsu !== 'connection') return
      void next.send(message, handle).then(() => (handle as { close?: () => void }).close?.())
    })
    // Connections move one IPC message (and ACK) at a time: allow for many.
    const handedOff = waitFor(old, 'handed-off', { timeoutMs: timeoutMs * 3, phase })
    void old.send({ dsu: 'commit' })
    let connectionsMoved = 0
    try {
      connectionsMoved = (await handedOff).connections
    } catch {
      old.kill('SIGKILL') // committed already; a stuck old version must not linger
    } finally {
      relay()
    }
    finishPhase(null)
    return {
      outcome: 'committed', from: old.version, to: request.version, phases,
      pauseMs: pauseEnd - quiesceStart, totalMs: env.now() - t0, state: stateStats,
      serving: next, connectionsMoved,
    }
  } catch (cause) {
    next.kill('SIGKILL')
    // 'resume' also stops a pre-copy (tracking, stream) that was under way.
    if (quiesced || precopyStarted) void old.send({ dsu: 'resume' })
    const error = isDsuError(cause) ? cause : new DsuError('DSU_ERR_INTERNAL', String(cause), { cause })
    const failedPhase = (error.phase as Phase | undefined) ?? phase
    const wire: WireError & { phase: Phase; output?: string } = { ...toWire(error), phase: failedPhase }
    const rolledBack: UpgradeResult = {
      outcome: 'rolled-back', from: old.version, to: request.version, phases,
      pauseMs: quiesceStart === null ? null : env.now() - quiesceStart, totalMs: env.now() - t0,
      state: stateStats, error: wire, serving: old, connectionsMoved: 0,
    }
    // The new version's stack trace says why, unless the old version failed.
    // Read once it has died (the timings above do not include the wait).
    const oldFailed = ['DSU_ERR_QUIESCE_TIMEOUT', 'DSU_ERR_UNSERIALIZABLE', 'DSU_ERR_PROGRAM_EXITED'].includes(wire.code)
    const output = oldFailed ? '' : await next.recentStderr?.()
    if (output) wire.output = output
    report({ event: 'rollback', phase: failedPhase, error: wire })
    return rolledBack
  }
}
