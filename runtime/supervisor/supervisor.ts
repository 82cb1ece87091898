// The supervisor behind `dsu run`: spawns the program, holds a copy of every
// listening handle, owns the control socket, and runs upgrades one at a time.
// Invariant (guarantee 1): at most two program processes exist, and at most
// one of them is uncommitted; a second upgrade request is refused.
import fs from 'node:fs'
import type net from 'node:net'
import path from 'node:path'
import { DsuError } from '../errors.js'
import type { ProgramMessage, RootManifest } from '../protocol.js'
import { Journal } from '../journal/index.js'
import { openControlSocket } from './control-server.js'
import type { ControlRequest } from './control-protocol.js'
import { resolveEntry, resolveTransformation, resolveTransformer, versionOf } from './entry.js'
import { spawnProgram, waitFor, type Exit, type ProgramProcess, type SpawnSpec } from './program-process.js'
import { adoptSocketPath, controlSocketPath, prepareStateDir } from './state-dir.js'
import { adoptOrphan, connectOrphan } from './adoption.js'
import { runUpgrade, type UpgradeEvent, type UpgradeResult } from './upgrade.js'
import { everyPhase, withOverrides, type Deadlines } from './deadlines.js'
import { takeCheckpoint } from './checkpointing.js'
import { checkpointDir, checkpointIds, listCheckpoints, verifiedCheckpoint, type CheckpointMeta, type VerifiedCheckpoint } from './checkpoint-store.js'
import { restoreFromFile, restoreNewest, startFresh, type ActivationEnv, type Restored } from './restore.js'
import { DEFAULT_RESTART, nextRestart, type RestartPolicy } from './restart-policy.js'
import { planRollback, type CommittedUpgrade } from './rollback.js'
import { nodeArgsFor } from './typescript-loader.js'

export interface SupervisorOptions {
  entry: string
  /** What the user named (file or directory): SIGHUP upgrades to what stands there now. */
  configuredEntry?: string
  version: string
  stateDir: string
  /**
   * Where program processes start: the operator's directory as they named it
   * (`/srv/app/current`, not the release it pointed to), so a new version
   * starts in the new release; the entry's folder once it is gone.
   */
  cwd?: string
  /** The app's name (`dsu run --name`), when several apps share one place. */
  name?: string
  /** Deadline of each wait on a program, ms; of each upgrade phase `deadlines` does not name. */
  timeoutMs: number
  /** Deadlines of upgrade phases (`dsu run --timeout precopy=2m`); a request may override them. */
  deadlines?: Partial<Deadlines>
  /** Grace period of a stop before the program is killed, ms. */
  stopTimeoutMs: number
  /** Extra node flags for every program process. */
  nodeArgs: string[]
  /** Start from this checkpoint ('latest' or an id) instead of cold. */
  restore?: string
  /** What to do when the program dies on its own. */
  restart?: RestartPolicy
  /** Take a checkpoint this often (ms); 0 = never. */
  checkpointEveryMs?: number
  /** Checkpoints kept on disk. */
  keepCheckpoints?: number
  log(line: string): void
}

export interface UpgradeSummary {
  outcome: UpgradeResult['outcome']
  from: string
  to: string
  at: string
  totalMs: number
  pauseMs: number | null
  error?: UpgradeResult['error']
}

export class Supervisor {
  readonly options: SupervisorOptions
  readonly listeners = new Map<string, unknown>()
  readonly startedAt = Date.now()
  private current!: ProgramProcess
  private control: net.Server | null = null
  private journal: Journal | null = null
  private upgrading: Promise<UpgradeResult> | null = null
  /** What the supervisor is doing that excludes an upgrade: one thing at a time. */
  private busy: 'upgrade' | 'checkpoint' | 'restart' | null = null
  private crashes: number[] = []
  /** Processes stopped on purpose (a refused checkpoint): their exit is not a crash. */
  private readonly discarded = new WeakSet<ProgramProcess>()
  /** Checkpoints found unusable since start: crash restarts do not try them again. */
  private readonly badCheckpoints = new Set<string>()
  private checkpointTimer: NodeJS.Timeout | null = null
  private stopping = false
  private lastUpgrade: UpgradeSummary | null = null
  /** The last committed upgrade, for `dsu rollback` when the journal cannot say. */
  private lastCommitted: CommittedUpgrade | null = null
  private streams = 0
  private resolveDone!: (code: number) => void
  /** Resolves with the exit code `dsu run` should exit with. */
  readonly done = new Promise<number>((resolve) => (this.resolveDone = resolve))

  constructor(options: SupervisorOptions) {
    this.options = options
  }

  async start(): Promise<void> {
    // A TypeScript entry Node cannot run is refused before anything is created or spawned.
    this.nodeArgsFor({ entry: this.options.entry })
    prepareStateDir(this.options.stateDir)
    this.control = await openControlSocket(controlSocketPath(this.options.stateDir), (request, emit) => this.handle(request, emit))
    // Guarantee 7; a journal that cannot be written is reported, never fatal.
    this.journal = Journal.open(this.options.stateDir, { onError: (e) => this.options.log(`dsu: ${e.code}: ${e.message}`) })
    let detail: Record<string, unknown> | undefined
    let adopted = false
    try {
      // A program left serving by a supervisor that died: re-adopted, never doubled.
      const adoptFile = adoptSocketPath(this.options.stateDir)
      const orphan = await connectOrphan(adoptFile)
      if (orphan && this.options.restore) {
        orphan.destroy()
        throw new DsuError('DSU_ERR_ADOPT_FAILED', `a program left running by a supervisor that died still serves from this state dir (it waits on ${adoptFile}); --restore would start a second copy beside it: run dsu run without --restore to re-adopt it with its current state`)
      }
      if (orphan) {
        const program = await adoptOrphan(orphan, { listeners: this.listeners, timeoutMs: this.options.timeoutMs, file: adoptFile })
        this.current = program
        void program.exited.then((exit) => this.onExit(program, exit))
        adopted = true
        detail = { adopted: program.pid }
        this.options.log(`dsu: re-adopted ${program.version} (pid ${program.pid}) left running by a supervisor that died, with ${this.listeners.size} listening socket(s)`)
      } else if (this.options.restore) {
        const restored = await this.restoreOnStart(this.options.restore)
        detail = { restore: this.options.restore, from: restored.checkpoint ? `checkpoint ${restored.checkpoint.id}` : 'fresh state', ...(restored.skipped.length ? { skipped: restored.skipped } : {}) }
      } else {
        this.current = this.spawn({ entry: this.options.entry, version: this.options.version, role: 'primary' })
        await this.started(this.current)
      }
    } catch (error) {
      this.current?.kill()
      this.closeControl()
      throw error
    }
    this.journal.recordEvent({ kind: 'start', version: this.current.version, entry: this.current.entry, pid: this.current.pid, detail })
    this.options.log(`dsu: running ${path.basename(this.options.entry)} ${this.options.version} (pid ${this.current.pid}); control socket ${controlSocketPath(this.options.stateDir)}`)
    const every = this.options.checkpointEveryMs ?? 0
    if (every > 0) {
      this.checkpointTimer = setInterval(() => {
        if (this.busy) return
        this.checkpoint().then(
          (c) => this.options.log(`dsu: checkpoint ${c.id} (${c.version}, ${c.records} records, ${c.bytes} bytes)`),
          () => {}, // logged and journaled by checkpoint(); the next one is tried on schedule
        )
      }, every)
      this.checkpointTimer.unref()
    }
    if (adopted) await this.moveAdopted()
  }

  /**
   * The adopted program is no child of this supervisor (no exit code, no
   * stderr): an upgrade to the configured entry moves its state and
   * connections into a fresh process that is. Should it roll back, the
   * adopted program serves on under this supervisor.
   */
  private async moveAdopted(): Promise<void> {
    const adopted = this.current
    try {
      const result = await this.upgrade({ entry: this.options.entry, version: this.options.version, transformer: null })
      if (result.outcome !== 'committed') {
        this.options.log(`dsu: ${adopted.version} (pid ${adopted.pid}) serves on under this supervisor; \`dsu upgrade --to ${this.options.entry}\` moves it into a fresh process`)
      }
    } catch (error) {
      const e = error as { code?: string; message?: string }
      this.options.log(`dsu: moving the re-adopted ${adopted.version} into a fresh process was refused: ${e.code ?? 'DSU_ERR_INTERNAL'}: ${e.message}; it serves on under this supervisor`)
    }
  }

  private started(program: ProgramProcess): Promise<unknown> {
    return waitFor(program, 'hello', { timeoutMs: this.options.timeoutMs, phase: 'start', exitCode: 'DSU_ERR_PROGRAM_EXITED' })
  }

  /**
   * `--restore <id>`: that checkpoint or a named error (a bad one is
   * DSU_ERR_CHECKPOINT_CORRUPT). `--restore latest`: the newest good one,
   * skipping bad ones, else a cold start; refused only when there is none at all.
   */
  private async restoreOnStart(which: string): Promise<Restored> {
    const { entry, version } = this.options
    let transformer: string | null = null
    const spawn = (checkpoint: VerifiedCheckpoint | null): ProgramProcess => {
      if (!checkpoint) return (this.current = this.spawn({ entry, version, role: 'primary' }))
      // The transformer is loaded by the program at boot, so it is part of the spawn.
      transformer = checkpoint.version === version ? null : resolveTransformer(null, entry)
      return (this.current = this.spawn({ entry, version, role: 'successor', listeners: [], transformer, from: checkpoint.version }))
    }
    let restored: Restored
    if (which === 'latest') {
      const ids = checkpointIds(this.options.stateDir)
      if (ids.length === 0) throw new DsuError('DSU_ERR_CHECKPOINT_NOT_FOUND', `no checkpoint in ${checkpointDir(this.options.stateDir)}`)
      restored = await restoreNewest(ids, this.fallbackEnv(spawn, (program) => this.started(program)))
    } else {
      const checkpoint = verifiedCheckpoint(this.options.stateDir, which)
      const program = spawn(checkpoint)
      restored = { program, checkpoint, stats: await restoreFromFile(program, checkpoint, this.activationEnv()), skipped: [] }
    }
    const { checkpoint, stats } = restored
    if (checkpoint && stats) {
      this.options.log(`dsu: restored checkpoint ${checkpoint.id} (${checkpoint.version}, ${stats.records} records)${transformer ? ` through ${transformer}` : ''}`)
    }
    return restored
  }

  /** What restoreNewest needs; skipped checkpoints are remembered so a crash restart does not retry them. */
  private fallbackEnv(spawn: (checkpoint: VerifiedCheckpoint | null) => ProgramProcess, startCold: (program: ProgramProcess) => Promise<unknown>) {
    return {
      ...this.activationEnv(),
      stateDir: this.options.stateDir,
      spawn,
      startCold,
      discard: (program: ProgramProcess) => {
        this.discarded.add(program)
        program.kill('SIGKILL')
      },
      skipped: (id: string) => this.badCheckpoints.add(id),
      log: this.options.log,
    }
  }

  /** Snapshots the marked state at a brief quiescent point; the program resumes at once. */
  async checkpoint(): Promise<CheckpointMeta> {
    this.refuseIfBusy('checkpoint')
    this.busy = 'checkpoint'
    const program = this.current
    try {
      const meta = await takeCheckpoint(program, {
        stateDir: this.options.stateDir, streamPath: () => this.streamPath(),
        timeoutMs: this.options.timeoutMs, keep: this.options.keepCheckpoints ?? 5,
      })
      this.journal?.recordEvent({ kind: 'checkpoint', version: meta.version, pid: program.pid, detail: { id: meta.id, bytes: meta.bytes, records: meta.records } })
      return meta
    } catch (error) {
      // Periodic or asked for, a failed checkpoint is told and the program serves on.
      const e = error as { code?: string; message?: string }
      this.options.log(`dsu: checkpoint failed: ${e.code ?? 'DSU_ERR_INTERNAL'}: ${e.message ?? String(error)}`)
      this.journal?.recordEvent({ kind: 'checkpoint-failed', version: program.version, pid: program.pid, detail: { code: e.code ?? 'DSU_ERR_INTERNAL', message: e.message ?? String(error) } })
      throw error
    } finally {
      if (this.busy === 'checkpoint') this.busy = null
    }
  }

  checkpoints(): CheckpointMeta[] {
    return listCheckpoints(this.options.stateDir)
  }

  private refuseIfBusy(what: string): void {
    if (this.stopping) throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', `the supervisor is stopping; no ${what} can start`)
    if (this.current.exit) throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', `${this.current.version} has exited and is being restarted; try again when it serves`)
    if (this.busy) {
      throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', this.busy === 'upgrade'
        ? `an upgrade of ${this.current.version} is already running; one upgrade at a time`
        : `a ${this.busy} is running; try again when it is done`)
    }
  }

  private streamPath(): string {
    return path.join(this.options.stateDir, `stream-${process.pid}-${++this.streams}.sock`)
  }

  private activationEnv(): ActivationEnv {
    return { listeners: this.listeners, timeoutMs: this.options.timeoutMs, streamPath: () => this.streamPath() }
  }

  async status(): Promise<Record<string, unknown>> {
    const p = this.current
    // Marked roots with their sizes, from the program itself (no values, no pause).
    let roots: RootManifest[] | null = null
    if (!this.busy) {
      const reply = waitFor(p, 'manifest', { timeoutMs: 1000, phase: 'status' })
      void p.send({ dsu: 'manifest' })
      roots = await reply.then((m) => m.roots, () => null)
    }
    const recorded = this.journal?.lastUpgrade()
    return {
      pid: p.pid,
      version: p.version,
      entry: p.entry,
      startedAt: new Date(p.startedAt).toISOString(),
      uptimeMs: Date.now() - p.startedAt,
      name: this.options.name ?? null,
      stateDir: this.options.stateDir,
      supervisorPid: process.pid,
      listeners: [...this.listeners.keys()],
      roots,
      upgrading: this.upgrading !== null,
      busy: this.busy,
      checkpoints: listCheckpoints(this.options.stateDir).length,
      lastUpgrade: recorded
        ? { outcome: recorded.outcome, from: recorded.from, to: recorded.to, at: recorded.endedAt, totalMs: recorded.totalMs, pauseMs: recorded.pauseMs, ...(recorded.error ? { error: recorded.error } : {}) }
        : this.lastUpgrade,
    }
  }

  async upgrade(target: { entry: string; transformer: string | null; transformers?: string | null; deadlines?: Partial<Deadlines>; version?: string; conventional?: boolean }, report: (e: UpgradeEvent) => void = () => {}): Promise<UpgradeResult> {
    this.refuseIfBusy('upgrade')
    const entry = resolveEntry(target.entry)
    const version = target.version ?? versionOf(entry)
    const old = this.current
    // A conventional dsu.transform.js maps the previous version's shape; when
    // the version label did not change (a reload of the same release) the
    // state already has the new shape, so only an explicit transformer runs.
    const conventional = target.conventional !== false && version !== old.version
    const { transformer, transformers } = resolveTransformation(target, entry, conventional)
    // Refused before the upgrade starts when the new version is TypeScript Node cannot run.
    this.nodeArgsFor({ entry, transformer, transformers })
    this.options.log(`dsu: upgrading ${old.version} → ${version} (${entry})`)
    this.busy = 'upgrade'
    const deadlines = withOverrides(withOverrides(everyPhase(this.options.timeoutMs), this.options.deadlines), target.deadlines)
    this.upgrading = runUpgrade(old, { entry, version, transformer, transformers, deadlines }, {
      spawn: (spec) => this.spawn(spec),
      now: () => performance.now(),
      streamPath: () => this.streamPath(),
      listeners: this.listeners,
      nodeArgs: this.options.nodeArgs,
    }, report)
    const startedAt = Date.now()
    try {
      const result = await this.upgrading
      this.current = result.serving
      if (result.outcome === 'failed' && result.error) {
        // What happens next is the crash policy's (onExit runs once this returns): say it here too.
        result.error.message += `; ${this.afterCrash()}`
      }
      this.journal?.recordUpgrade({
        ...result, startedAt, fromEntry: old.entry, toEntry: entry, transformer: transformer ?? (transformers ? `${transformers}/` : null),
        error: result.error ?? undefined,
      })
      if (result.outcome === 'committed') {
        this.lastCommitted = { from: result.from, to: result.to, fromEntry: old.entry, toEntry: entry, transformer: transformer ?? (transformers ? `${transformers}/` : null) }
      }
      this.lastUpgrade = {
        outcome: result.outcome, from: result.from, to: result.to, at: new Date().toISOString(),
        totalMs: result.totalMs, pauseMs: result.pauseMs, ...(result.error ? { error: result.error } : {}),
      }
      this.options.log(result.outcome === 'committed'
        ? `dsu: committed ${result.from} → ${result.to} (pid ${result.serving.pid}) in ${result.totalMs.toFixed(1)} ms, pause ${result.pauseMs?.toFixed(1)} ms`
        : result.outcome === 'failed'
          ? `dsu: upgrade ${result.from} → ${result.to} failed in ${result.error?.phase}: ${result.error?.code} ${result.error?.message}`
          : `dsu: rolled back ${result.from} → ${result.to} in ${result.error?.phase}: ${result.error?.code} ${result.error?.message}; ${result.from} keeps serving`)
      return result
    } finally {
      this.upgrading = null
      if (this.busy === 'upgrade') this.busy = null
    }
  }

  /** What the restart policy will do about the current program's death, in words. */
  private afterCrash(): string {
    const policy = this.options.restart ?? DEFAULT_RESTART
    if (policy.mode === 'no') return 'dsu run does not restart it (--restart no) and exits; start it again, with --restore latest to load the last checkpoint'
    // The newest one the restart will try first (it falls back to older ones, then to fresh state).
    const checkpoint = listCheckpoints(this.options.stateDir).find((meta) => !this.badCheckpoints.has(meta.id))
    return checkpoint
      ? `dsu run restarts ${this.current.version} from checkpoint ${checkpoint.id} (${checkpoint.createdAt}); writes since then are lost`
      : `dsu run restarts ${this.current.version} with fresh state: there is no checkpoint to restore`
  }

  /** `dsu rollback`: back to the version before the last committed upgrade. */
  async rollback(report: (e: UpgradeEvent) => void = () => {}, deadlines?: Partial<Deadlines>): Promise<UpgradeResult> {
    this.refuseIfBusy('rollback')
    const recorded = this.journal?.upgrades({ limit: 50 }).find((u) => u.outcome === 'committed')
    const last: CommittedUpgrade | null = recorded && recorded.fromEntry && recorded.toEntry
      ? { from: recorded.from, to: recorded.to, fromEntry: recorded.fromEntry, toEntry: recorded.toEntry, transformer: recorded.transformer }
      : this.lastCommitted
    const plan = planRollback(last, this.current)
    // Only the reverse plan applies: the old entry's own dsu.transform.js maps the other way.
    return this.upgrade({ entry: plan.entry, version: plan.version, transformer: plan.transformer, deadlines, conventional: false }, report)
  }

  /**
   * SIGHUP: upgrade to whatever code now stands at the configured entry, the
   * way nginx and tableflip-based servers reload. Never throws; logs the outcome.
   */
  async reload(): Promise<UpgradeResult | null> {
    const target = this.options.configuredEntry ?? this.options.entry
    try {
      return await this.upgrade({ entry: target, transformer: null })
    } catch (error) {
      const e = error as { code?: string; message?: string }
      this.options.log(`dsu: reload refused: ${e.code ?? 'DSU_ERR_INTERNAL'}: ${e.message ?? String(error)}`)
      return null
    }
  }

  async stop(timeoutMs = this.options.stopTimeoutMs): Promise<Exit | null> {
    if (this.stopping) return null
    this.stopping = true
    await this.upgrading?.catch(() => {})
    const program = this.current
    void program.send({ dsu: 'stop', timeoutMs })
    const timer = setTimeout(() => program.kill('SIGKILL'), timeoutMs + 1000)
    const exit = await program.exited
    clearTimeout(timer)
    this.journal?.recordEvent({ kind: 'stop', version: program.version, entry: program.entry, pid: program.pid, code: exit.code, signal: exit.signal })
    this.closeControl()
    this.options.log(`dsu: stopped ${program.version} (pid ${program.pid})`)
    this.resolveDone(0)
    return exit
  }

  /** The node flags of a program process: the user's, with a TypeScript loader when one is needed. */
  private nodeArgsFor(spec: Pick<SpawnSpec, 'entry' | 'transformer' | 'transformers'>): string[] {
    return nodeArgsFor({ entry: spec.entry, modules: [spec.transformer, spec.transformers], nodeArgs: this.options.nodeArgs })
  }

  private spawn(spec: SpawnSpec): ProgramProcess {
    const cwd = this.options.cwd && fs.existsSync(this.options.cwd) ? this.options.cwd : path.dirname(spec.entry)
    const program = spawnProgram({ ...spec, nodeArgs: this.nodeArgsFor(spec), cwd, adoptSocket: adoptSocketPath(this.options.stateDir) })
    program.onMessage((message: ProgramMessage, handle) => {
      // Fresh listening sockets register here; a successor's only count once it serves.
      if (message.dsu === 'listener' && handle) this.listeners.set(message.key, handle)
    })
    void program.exited.then((exit) => this.onExit(program, exit))
    return program
  }

  private async onExit(program: ProgramProcess, exit: Exit): Promise<void> {
    await this.upgrading?.catch(() => {})
    if (program !== this.current || this.stopping || this.discarded.has(program)) return
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
    this.options.log(`dsu: ${program.version} (pid ${program.pid}) ${how}; DSU_ERR_PROGRAM_EXITED`)
    this.journal?.recordEvent({ kind: exit.code === 0 ? 'exit' : 'crash', version: program.version, entry: program.entry, pid: program.pid, code: exit.code, signal: exit.signal })
    this.crashes.push(Date.now())
    const policy = this.options.restart ?? DEFAULT_RESTART
    const delay = nextRestart(policy, this.crashes, exit.code)
    if (delay !== null) return this.restart(program, delay)
    if (policy.mode !== 'no' && !(policy.mode === 'on-failure' && exit.code === 0)) {
      this.options.log(`dsu: DSU_ERR_CRASH_LOOP: ${program.version} crashed ${this.crashes.length} times, more than ${policy.maxRestarts} within ${policy.windowMs / 1000}s; giving up`)
    }
    this.stopping = true
    this.closeControl()
    this.resolveDone(exit.code === 0 ? 0 : (exit.code ?? 1))
  }

  /**
   * Crash restart: from the newest checkpoint that loads, keeping the
   * listening sockets; bad checkpoints are skipped (and not tried again), and
   * with none left the program starts with fresh state.
   */
  private async restart(crashed: ProgramProcess, delayMs: number): Promise<void> {
    this.busy = 'restart'
    this.options.log(`dsu: restarting ${crashed.version} in ${delayMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, delayMs))
    if (this.stopping) return
    const { entry, version } = crashed
    const spawn = (checkpoint: VerifiedCheckpoint | null): ProgramProcess => {
      // A stop during the restart: stop() deals with the program it found; start no other.
      if (this.stopping) throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', 'the supervisor is stopping')
      const transformer = checkpoint && checkpoint.version !== version ? resolveTransformer(null, entry) : null
      // Current from its spawn: if it dies, onExit counts it as another crash.
      return (this.current = this.spawn({ entry, version, role: 'successor', listeners: [...this.listeners.keys()], transformer, from: checkpoint?.version }))
    }
    try {
      const ids = checkpointIds(this.options.stateDir).filter((id) => !this.badCheckpoints.has(id))
      const restored = await restoreNewest(ids, this.fallbackEnv(spawn, (program) => startFresh(program, this.activationEnv())))
      const next = restored.program
      const from = restored.checkpoint ? `checkpoint ${restored.checkpoint.id}` : 'no checkpoint: state initialised'
      this.journal?.recordEvent({ kind: 'restart', version: next.version, entry: next.entry, pid: next.pid, detail: { from, delayMs, ...(restored.skipped.length ? { skipped: restored.skipped } : {}) } })
      this.options.log(`dsu: restarted ${next.version} (pid ${next.pid}) from ${from}`)
    } catch (error) {
      if (this.stopping) return
      // Its exit, if it died, goes through onExit and counts as another crash.
      const e = error as { code?: string; message?: string }
      this.options.log(`dsu: restart of ${version} failed: ${e.code ?? 'DSU_ERR_INTERNAL'}: ${e.message}`)
      if (this.current === crashed || this.discarded.has(this.current)) {
        // No process of this attempt is left whose exit would count as another
        // crash and retry: stop rather than supervise nothing.
        this.options.log(`dsu: giving up on ${version}: no program is running`)
        this.stopping = true
        this.closeControl()
        this.resolveDone(crashed.exit?.code || 1)
        return
      }
      this.current.kill('SIGKILL')
    } finally {
      if (this.busy === 'restart') this.busy = null
    }
  }

  private async handle(request: ControlRequest, emit: (event: unknown) => void): Promise<unknown> {
    switch (request.cmd) {
      case 'status':
        return this.status()
      case 'stop': {
        const exit = await this.stop(request.timeoutMs)
        return { stopped: true, exit }
      }
      case 'checkpoint':
        return request.list ? { checkpoints: this.checkpoints() } : { checkpoint: await this.checkpoint() }
      case 'rollback': {
        const { serving, ...rest } = await this.rollback(emit, request.deadlines)
        return { ...rest, pid: serving.pid }
      }
      case 'upgrade': {
        const result = await this.upgrade(request, emit)
        const { serving, ...rest } = result
        return { ...rest, pid: serving.pid }
      }
    }
  }

  private closeControl(): void {
    this.control?.close()
    this.control = null
    if (this.checkpointTimer) clearInterval(this.checkpointTimer)
    this.journal?.close()
    this.journal = null
    for (const handle of this.listeners.values()) (handle as { close?: () => void }).close?.()
    this.listeners.clear()
    try {
      fs.unlinkSync(controlSocketPath(this.options.stateDir))
    } catch {
      // already gone
    }
  }
}
