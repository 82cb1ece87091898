// The supervisor behind `dsu run`: spawns the program, holds a copy of every
// listening handle, owns the control socket, and runs upgrades one at a time.
// Invariant (guarantee 1): at most two program processes exist per worker, and
// at most one of them is uncommitted; a second upgrade request is refused.
// With `--workers N` it runs N program processes (workers) sharing the held
// listening sockets, each with its own state, crash restarts and checkpoints.
import fs from 'node:fs'
import type net from 'node:net'
import path from 'node:path'
import { DsuError } from '../errors.js'
import type { ProgramMessage, RootManifest } from '../protocol.js'
import { Journal } from '../journal/index.js'
import { openControlSocket } from './control-server.js'
import type { ControlRequest } from './control-protocol.js'
import { conventionalFile, resolveEntry, resolveTransformation, versionOf } from './entry.js'
import { describeChoice, type TransformerChoice } from '../transformer-choice.js'
import { spawnProgram, type Exit, type ProgramProcess, type SpawnSpec } from './program-process.js'
import { ask } from './program-link.js'
import { adoptSocketPath, controlSocketPath, prepareStateDir } from './state-dir.js'
import { adoptOrphan, connectOrphan } from './adoption.js'
import type { UpgradeEvent, UpgradeResult } from './upgrade.js'
import { everyPhase, withOverrides, type Deadlines } from './deadlines.js'
import { checkpointDir, checkpointIds, listCheckpoints, scanCheckpoints, verifiedCheckpoint, type CheckpointMeta, type VerifiedCheckpoint } from './checkpoint-store.js'
import type { ActivationEnv, Restored } from './restore.js'
import { readStateFile, isStateFileArg } from './state-import.js'
import { DEFAULT_RESTART, nextRestart, type RestartPolicy } from './restart-policy.js'
import { planRollback, type CommittedUpgrade } from './rollback.js'
import { nodeArgsFor } from './typescript-loader.js'
import { upgradeFleet, type FleetResult, type Strategy } from './fleet-upgrade.js'
import { fromWire, type WireError } from '../errors.js'

// Loaded on first use: a supervisor whose program is never upgraded,
// checkpointed or restored does not carry that code (and the state codec
// restore.ts pulls in) for the months it runs.
const upgradeCode = (): Promise<typeof import('./upgrade.js')> => import('./upgrade.js')
const restoreCode = (): Promise<typeof import('./restore.js')> => import('./restore.js')
const checkpointCode = (): Promise<typeof import('./checkpointing.js')> => import('./checkpointing.js')

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
  /** Program processes sharing the listening sockets (`--workers`); 1 by default. */
  workers?: number
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

/** One worker: the process serving it now, and its own crash history and checkpoints. */
interface Slot {
  index: number
  current: ProgramProcess
  crashes: number[]
  restarts: number
  /** The upgrade of this worker under way: its death is that upgrade's to handle first. */
  upgrading: Promise<unknown> | null
  /** A crash restart under way. */
  restarting: Promise<void> | null
  /** Checkpoints found unusable since start: crash restarts do not try them again. */
  badCheckpoints: Set<string>
  /** Listen keys this worker binds: shared with others (the same listen()), or its own (a port per worker). */
  keys: Set<string>
}

export class Supervisor {
  readonly options: SupervisorOptions
  readonly listeners = new Map<string, unknown>()
  readonly startedAt = Date.now()
  private slots: Slot[] = []
  /** What the program did that dsu refuses to supervise (node:cluster…): dsu run stops with it. */
  private refusal: WireError | null = null
  private control: net.Server | null = null
  private journal: Journal | null = null
  private upgrading: Promise<UpgradeResult> | null = null
  /** What the supervisor is doing that excludes an upgrade: one thing at a time. */
  private busy: 'upgrade' | 'checkpoint' | 'restart' | null = null
  /** Processes stopped on purpose (a refused checkpoint): their exit is not a crash. */
  private readonly discarded = new WeakSet<ProgramProcess>()
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

  /** Worker 0's process: with one worker, the program. */
  private get current(): ProgramProcess {
    return this.slots[0]!.current
  }

  private set current(program: ProgramProcess) {
    this.slot(0).current = program
  }

  private get count(): number {
    return Math.max(1, this.options.workers ?? 1)
  }

  private slot(index: number): Slot {
    this.slots[index] ??= { index, current: undefined as unknown as ProgramProcess, crashes: [], restarts: 0, upgrading: null, restarting: null, badCheckpoints: new Set(), keys: new Set() }
    return this.slots[index]!
  }

  /** The held listening handles worker i binds: with one worker, all of them. */
  private listenersOf(index: number): Map<string, unknown> {
    if (this.count === 1) return this.listeners
    const keys = this.slot(index).keys
    return new Map([...this.listeners].filter(([key]) => keys.has(key)))
  }

  /**
   * A handle worker i's new process did not claim: it is no longer worker
   * i's, and is closed only when no other worker binds it. (One worker: the
   * default, closed.)
   */
  private unclaimedOf(index: number): ((key: string, handle: unknown) => void) | undefined {
    if (this.count === 1) return undefined
    return (key, handle) => {
      this.slot(index).keys.delete(key)
      if (this.slots.some((s) => s.keys.has(key))) return
      if (this.listeners.get(key) === handle) this.listeners.delete(key)
      ;(handle as { close?: () => void }).close?.()
    }
  }

  /** Where worker i's checkpoints live: worker 0's (the only one's) where they always did. */
  private slotStateDir(index: number): string {
    return index === 0 ? this.options.stateDir : path.join(this.options.stateDir, 'workers', String(index))
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
        detail = { restore: this.options.restore, from: restored.checkpoint ? `checkpoint ${restored.checkpoint.id}` : restored.file ? `state file ${restored.file}` : 'fresh state', ...(restored.skipped.length ? { skipped: restored.skipped } : {}) }
      } else {
        this.current = this.spawn({ entry: this.options.entry, version: this.options.version, role: 'primary' })
        await this.started(this.current)
      }
      if (this.count > 1) await this.startOtherWorkers()
    } catch (error) {
      for (const slot of this.slots) slot?.current?.kill()
      this.closeControl()
      // A refusal (node:cluster…) says more than the death it caused.
      throw this.refusal ? fromWire(this.refusal) : error
    }
    this.journal.recordEvent({ kind: 'start', version: this.current.version, entry: this.current.entry, pid: this.current.pid, detail })
    for (const slot of this.slots.slice(1)) {
      this.journal.recordEvent({ kind: 'start', version: slot.current.version, entry: slot.current.entry, pid: slot.current.pid, detail: { worker: slot.index } })
    }
    const pids = this.slots.map((slot) => slot.current.pid).join(', ')
    this.options.log(`dsu: running ${path.basename(this.options.entry)} ${this.options.version} (${this.count > 1 ? `${this.count} workers, pids ${pids}` : `pid ${this.current.pid}`}); control socket ${controlSocketPath(this.options.stateDir)}`)
    const every = this.options.checkpointEveryMs ?? 0
    if (every > 0) {
      this.checkpointTimer = setInterval(() => {
        if (this.busy) return
        this.checkpointAll().then(
          (all) => {
            for (const [i, c] of all.entries()) this.options.log(`dsu: checkpoint ${c.id}${all.length > 1 ? ` of worker ${i}` : ''} (${c.version}, ${c.records} records, ${c.bytes} bytes)`)
          },
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

  /**
   * Workers 1…N-1 start once worker 0 listens: in the successor role, bound
   * to the listening sockets it registered (so a port 0 is one port for all),
   * from their own newest checkpoint with --restore, else with fresh state.
   */
  private async startOtherWorkers(): Promise<void> {
    if (this.listeners.size === 0) {
      await this.current.milestone('listener', { timeoutMs: this.options.timeoutMs, phase: 'start', exitCode: 'DSU_ERR_PROGRAM_EXITED' }).catch((error: Error) => {
        error.message += `; with --workers, worker 0 must listen() within ${this.options.timeoutMs} ms so the other workers can share its sockets`
        throw error
      })
    }
    for (let i = 1; i < this.count; i++) {
      const ids = this.options.restore ? checkpointIds(this.slotStateDir(i)) : []
      // Offered worker 0's sockets; it binds those its listen() calls name, and
      // listens itself on the others (a port of its own). Ready once restored:
      // which of worker 0's sockets it shares is only known once it listens.
      this.slot(i).keys = new Set(this.slot(0).keys)
      await this.bringUp(i, this.options.entry, this.options.version, ids, [])
    }
  }

  /** Starts worker i from the newest of `ids` that loads (else fresh state), bound to the held sockets. */
  private async bringUp(index: number, entry: string, version: string, ids: string[], expected?: string[]): Promise<Restored> {
    const slot = this.slot(index)
    const spawn = (checkpoint: VerifiedCheckpoint | null): ProgramProcess => {
      // A stop during the restart: stop() deals with the program it found; start no other.
      if (this.stopping) throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', 'the supervisor is stopping')
      const transformer = checkpoint && checkpoint.version !== version ? conventionalFile(entry) : null
      // Current from its spawn: if it dies, onExit counts it as another crash.
      return (slot.current = this.spawn({ entry, version, role: 'successor', listeners: expected ?? [...this.listenersOf(index).keys()], transformer, from: checkpoint?.version }, index))
    }
    const { restoreNewest, startFresh } = await restoreCode()
    return restoreNewest(ids, this.fallbackEnv(spawn, (program) => startFresh(program, this.activationEnv(index)), index))
  }

  private started(program: ProgramProcess): Promise<unknown> {
    return program.milestone('hello', { timeoutMs: this.options.timeoutMs, phase: 'start', exitCode: 'DSU_ERR_PROGRAM_EXITED' })
  }

  /**
   * `--restore <id>`: that checkpoint or a named error (a bad one is
   * DSU_ERR_CHECKPOINT_CORRUPT). `--restore latest`: the newest good one,
   * skipping bad ones, else a cold start; refused only when there is none at all.
   */
  private async restoreOnStart(which: string): Promise<Restored & { file?: string }> {
    const { entry, version } = this.options
    let transformer: TransformerChoice | null = null
    if (isStateFileArg(which)) {
      // `--restore snap.json`: a file from `dsu state export`, checked whole
      // (DSU_ERR_STATE_FILE) before any program is spawned.
      const source = path.resolve(this.options.cwd ?? process.cwd(), which)
      const file = await readStateFile(source)
      transformer = file.version === version ? null : conventionalFile(entry)
      const program = (this.current = this.spawn({ entry, version, role: 'successor', listeners: [], transformer, from: file.version }))
      const { restoreFromStream } = await restoreCode()
      const stats = await restoreFromStream(program, file.stream, file.version, source, this.activationEnv())
      this.options.log(`dsu: restored state file ${source} (${file.version}, ${stats.records} records)${transformer ? ` through ${describeChoice(transformer)}` : ''}`)
      return { program, checkpoint: null, stats, skipped: [], file: source }
    }
    const spawn = (checkpoint: VerifiedCheckpoint | null): ProgramProcess => {
      if (!checkpoint) return (this.current = this.spawn({ entry, version, role: 'primary' }))
      // The transformer is loaded by the program at boot, so it is part of the spawn.
      transformer = checkpoint.version === version ? null : conventionalFile(entry)
      return (this.current = this.spawn({ entry, version, role: 'successor', listeners: [], transformer, from: checkpoint.version }))
    }
    const { restoreFromFile, restoreNewest } = await restoreCode()
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
      this.options.log(`dsu: restored checkpoint ${checkpoint.id} (${checkpoint.version}, ${stats.records} records)${transformer ? ` through ${describeChoice(transformer)}` : ''}`)
    }
    return restored
  }

  /** What restoreNewest needs; skipped checkpoints are remembered so a crash restart does not retry them. */
  private fallbackEnv(spawn: (checkpoint: VerifiedCheckpoint | null) => ProgramProcess, startCold: (program: ProgramProcess) => Promise<unknown>, index = 0) {
    return {
      ...this.activationEnv(index),
      stateDir: this.slotStateDir(index),
      spawn,
      startCold,
      discard: (program: ProgramProcess) => {
        this.discarded.add(program)
        program.kill('SIGKILL')
      },
      skipped: (id: string) => this.slot(index).badCheckpoints.add(id),
      log: this.options.log,
    }
  }

  /** Snapshots the marked state at a brief quiescent point; the program resumes at once. */
  async checkpoint(): Promise<CheckpointMeta> {
    return (await this.checkpointAll())[0]!
  }

  /** One checkpoint per worker, each in its own directory, one worker after the other. */
  async checkpointAll(): Promise<CheckpointMeta[]> {
    this.refuseIfBusy('checkpoint')
    this.busy = 'checkpoint'
    try {
      const all: CheckpointMeta[] = []
      for (const slot of this.slots) all.push(await this.checkpointOne(slot.index))
      return all
    } finally {
      if (this.busy === 'checkpoint') this.busy = null
    }
  }

  private async checkpointOne(index: number): Promise<CheckpointMeta> {
    const program = this.slot(index).current
    const worker = this.count > 1 ? { worker: index } : {}
    try {
      const { takeCheckpoint } = await checkpointCode()
      const meta = await takeCheckpoint(program, {
        stateDir: this.slotStateDir(index), streamPath: () => this.streamPath(),
        timeoutMs: this.options.timeoutMs, keep: this.options.keepCheckpoints ?? 5,
      })
      this.journal?.recordEvent({ kind: 'checkpoint', version: meta.version, pid: program.pid, detail: { id: meta.id, bytes: meta.bytes, records: meta.records, ...worker } })
      return meta
    } catch (error) {
      // Periodic or asked for, a failed checkpoint is told and the program serves on.
      const e = error as { code?: string; message?: string }
      this.options.log(`dsu: checkpoint${this.count > 1 ? ` of worker ${index}` : ''} failed: ${e.code ?? 'DSU_ERR_INTERNAL'}: ${e.message ?? String(error)}`)
      this.journal?.recordEvent({ kind: 'checkpoint-failed', version: program.version, pid: program.pid, detail: { code: e.code ?? 'DSU_ERR_INTERNAL', message: e.message ?? String(error), ...worker } })
      throw error
    }
  }

  /** The usable checkpoints, and those whose metadata does not check, with why (for a person to look at). */
  checkpoints(): { checkpoints: CheckpointMeta[]; invalid: Array<{ id: string; code: string; message: string }> } {
    const { checkpoints, bad } = scanCheckpoints(this.options.stateDir)
    return { checkpoints, invalid: bad.map(({ id, error }) => ({ id, code: error.code, message: error.message })) }
  }

  private refuseIfBusy(what: string): void {
    if (this.stopping) throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', `the supervisor is stopping; no ${what} can start`)
    for (const slot of this.slots) {
      if (slot.current.exit || slot.restarting) {
        throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', `${slot.current.version}${this.count > 1 ? ` (worker ${slot.index})` : ''} has exited and is being restarted; try again when it serves`)
      }
    }
    if (this.busy) {
      throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', this.busy === 'upgrade'
        ? `an upgrade of ${this.current.version} is already running; one upgrade at a time`
        : `a ${this.busy} is running; try again when it is done`)
    }
  }

  private streamPath(): string {
    return path.join(this.options.stateDir, `stream-${process.pid}-${++this.streams}.sock`)
  }

  private activationEnv(index = 0): ActivationEnv {
    const unclaimed = this.unclaimedOf(index)
    return { listeners: this.listenersOf(index), ...(unclaimed ? { unclaimed } : {}), timeoutMs: this.options.timeoutMs, streamPath: () => this.streamPath() }
  }

  async status(): Promise<Record<string, unknown>> {
    // Marked roots with their sizes, from each program itself (no values, no pause).
    const rootsOf = async (p: ProgramProcess): Promise<RootManifest[] | null> => {
      if (this.busy || p.exit) return null
      return ask(p, { dsu: 'manifest' }, 'manifest', { timeoutMs: 1000, phase: 'status' }).then((m) => m.roots, () => null)
    }
    const workers = await Promise.all(this.slots.map(async (slot) => {
      const w = slot.current
      return {
        index: slot.index, pid: w.pid, version: w.version, entry: w.entry,
        startedAt: new Date(w.startedAt).toISOString(), uptimeMs: Date.now() - w.startedAt,
        state: slot.restarting || w.exit ? 'restarting' : slot.upgrading ? 'upgrading' : 'serving',
        restarts: slot.restarts, listeners: [...slot.keys], roots: await rootsOf(w),
      }
    }))
    const p = this.current
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
      roots: workers[0]!.roots,
      upgrading: this.upgrading !== null,
      busy: this.busy,
      checkpoints: listCheckpoints(this.options.stateDir).length,
      lastUpgrade: recorded
        ? { outcome: recorded.outcome, from: recorded.from, to: recorded.to, at: recorded.endedAt, totalMs: recorded.totalMs, pauseMs: recorded.pauseMs, ...(recorded.error ? { error: recorded.error } : {}) }
        : this.lastUpgrade,
      // Added with --workers; the fields above are worker 0's.
      workers,
    }
  }

  async upgrade(target: { entry: string; transformer: string | null; transformers?: string | null; choice?: TransformerChoice | null; deadlines?: Partial<Deadlines>; version?: string; conventional?: boolean; strategy?: Strategy }, report: (e: UpgradeEvent) => void = () => {}): Promise<UpgradeResult> {
    this.refuseIfBusy('upgrade')
    const entry = resolveEntry(target.entry)
    const version = target.version ?? versionOf(entry)
    const old = this.current
    // A conventional dsu.transform.js maps the previous version's shape; when
    // the version label did not change (a reload of the same release) the
    // state already has the new shape, so only an explicit transformer runs.
    const conventional = target.conventional !== false && version !== old.version
    // The control request's strings become one structured choice here; a rollback passes its own.
    const transformer = target.choice !== undefined ? target.choice : resolveTransformation(target, entry, conventional)
    // Refused before the upgrade starts when the new version is TypeScript Node cannot run.
    this.nodeArgsFor({ entry, transformer })
    const strategy: Strategy | null = this.count > 1 ? (target.strategy ?? 'atomic') : null
    this.options.log(`dsu: upgrading ${old.version} → ${version} (${entry})${strategy ? `, ${this.count} workers, ${strategy}` : ''}`)
    this.busy = 'upgrade'
    const deadlines = withOverrides(withOverrides(everyPhase(this.options.timeoutMs), this.options.deadlines), target.deadlines)
    const request = { entry, version, transformer, deadlines }
    const upgradeOne = (index: number, from: ProgramProcess, barrier?: (point: 'quiesce' | 'activate', signal: AbortSignal) => Promise<void>, tell = report): Promise<UpgradeResult> => {
      const slot = this.slot(index)
      const running = upgradeCode().then(({ runUpgrade }) => runUpgrade(from, request, {
        spawn: (spec) => this.spawn(spec, index),
        now: () => performance.now(),
        streamPath: () => this.streamPath(),
        listeners: this.listenersOf(index),
        ...(this.unclaimedOf(index) ? { unclaimed: this.unclaimedOf(index)! } : {}),
        nodeArgs: this.options.nodeArgs,
        ...(barrier ? { barrier } : {}),
      }, tell))
      // The slot serves what the upgrade leaves serving before anyone else looks.
      const settled = running.then((result) => {
        slot.current = result.serving
        return result
      })
      slot.upgrading = settled
      void settled.finally(() => {
        if (slot.upgrading === settled) slot.upgrading = null
      })
      return settled
    }
    this.upgrading = strategy === null
      ? upgradeOne(0, old)
      : upgradeFleet(this.count, { version, entry }, strategy, {
        serving: (index) => this.servingWorker(index),
        upgrade: (index, from, barrier) => upgradeOne(index, from, barrier, (e) => report({ ...e, worker: index })),
        now: () => performance.now(),
      })
    const startedAt = Date.now()
    try {
      const result = await this.upgrading
      const fleet = strategy === null ? null : (result as FleetResult)
      if (result.outcome === 'failed' && result.error) {
        // What happens next is the crash policy's (onExit runs once this returns): say it here too.
        result.error.message += `; ${this.afterCrash()}`
      }
      this.journal?.recordUpgrade({
        ...result, startedAt, fromEntry: old.entry, toEntry: entry, transformer,
        error: result.error ?? undefined,
        ...(fleet ? { strategy: fleet.strategy, workers: fleet.workers } : {}),
      })
      if (result.outcome === 'committed') {
        this.lastCommitted = { from: result.from, to: result.to, fromEntry: old.entry, toEntry: entry, transformer }
      }
      this.lastUpgrade = {
        outcome: result.outcome, from: result.from, to: result.to, at: new Date().toISOString(),
        totalMs: result.totalMs, pauseMs: result.pauseMs, ...(result.error ? { error: result.error } : {}),
      }
      const pid = fleet ? `pids ${fleet.servingAll.map((p) => p.pid).join(', ')}` : `pid ${result.serving.pid}`
      this.options.log(result.outcome === 'committed'
        ? `dsu: committed ${result.from} → ${result.to} (${pid}) in ${result.totalMs.toFixed(1)} ms, pause ${result.pauseMs?.toFixed(1)} ms`
        : result.outcome === 'failed'
          ? `dsu: upgrade ${result.from} → ${result.to} failed in ${result.error?.phase}: ${result.error?.code} ${result.error?.message}`
          : `dsu: rolled back ${result.from} → ${result.to} in ${result.error?.phase}: ${result.error?.code} ${result.error?.message}; ${fleet?.mixed ? 'both versions serve' : `${result.from} keeps serving`}`)
      return result
    } finally {
      this.upgrading = null
      if (this.busy === 'upgrade') this.busy = null
    }
  }

  /** Worker i's process once it serves: a crash restart under way is waited for. */
  private async servingWorker(index: number): Promise<ProgramProcess> {
    const slot = this.slot(index)
    while (slot.restarting) await slot.restarting
    if (slot.current.exit) throw new DsuError('DSU_ERR_PROGRAM_EXITED', `worker ${index} (${slot.current.version}) has exited and is not restarted`)
    return slot.current
  }

  /** What the restart policy will do about the current program's death, in words. */
  private afterCrash(): string {
    const policy = this.options.restart ?? DEFAULT_RESTART
    if (policy.mode === 'no') return 'dsu run does not restart it (--restart no) and exits; start it again, with --restore latest to load the last checkpoint'
    if (this.count > 1) return 'dsu run restarts the worker that died from its newest checkpoint (else with fresh state); the others keep serving'
    // The newest one the restart will try first (it falls back to older ones, then to fresh state).
    const checkpoint = listCheckpoints(this.options.stateDir).find((meta) => !this.slot(0).badCheckpoints.has(meta.id))
    return checkpoint
      ? `dsu run restarts ${this.current.version} from checkpoint ${checkpoint.id} (${checkpoint.createdAt}); writes since then are lost`
      : `dsu run restarts ${this.current.version} with fresh state: there is no checkpoint to restore`
  }

  /** `dsu rollback`: back to the version before the last committed upgrade. */
  async rollback(report: (e: UpgradeEvent) => void = () => {}, deadlines?: Partial<Deadlines>, strategy?: Strategy): Promise<UpgradeResult> {
    this.refuseIfBusy('rollback')
    const recorded = this.journal?.upgrades({ limit: 50 }).find((u) => u.outcome === 'committed')
    const last: CommittedUpgrade | null = recorded && recorded.fromEntry && recorded.toEntry
      ? { from: recorded.from, to: recorded.to, fromEntry: recorded.fromEntry, toEntry: recorded.toEntry, transformer: recorded.transformerChoice }
      : this.lastCommitted
    const plan = planRollback(last, this.current)
    // Only the reverse plan applies: the old entry's own dsu.transform.js maps the other way.
    return this.upgrade({ entry: plan.entry, version: plan.version, transformer: null, choice: plan.transformer, deadlines, conventional: false, ...(strategy ? { strategy } : {}) }, report)
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
    const exits = await Promise.all(this.slots.map(async (slot) => {
      const program = slot.current
      void program.send({ dsu: 'stop', timeoutMs })
      const timer = setTimeout(() => program.kill('SIGKILL'), timeoutMs + 1000)
      const exit = await program.exited
      clearTimeout(timer)
      this.journal?.recordEvent({ kind: 'stop', version: program.version, entry: program.entry, pid: program.pid, code: exit.code, signal: exit.signal, ...(this.count > 1 ? { detail: { worker: slot.index } } : {}) })
      this.options.log(`dsu: stopped ${program.version} (pid ${program.pid})`)
      return exit
    }))
    this.closeControl()
    // A refusal (node:cluster…) ends dsu run as a usage error (exit code 2).
    this.resolveDone(this.refusal ? 2 : 0)
    return exits[0]!
  }

  /** The node flags of a program process: the user's, with a TypeScript loader when one is needed. */
  private nodeArgsFor(spec: Pick<SpawnSpec, 'entry' | 'transformer'>): string[] {
    return nodeArgsFor({ entry: spec.entry, modules: [spec.transformer?.path], nodeArgs: this.options.nodeArgs })
  }

  private spawn(spec: SpawnSpec, index = 0): ProgramProcess {
    const cwd = this.options.cwd && fs.existsSync(this.options.cwd) ? this.options.cwd : path.dirname(spec.entry)
    // Re-adoption after a supervisor's death is for one program process: with
    // --workers, workers stop with their supervisor as before (README, Not yet).
    const adopt = this.count === 1 ? { adoptSocket: adoptSocketPath(this.options.stateDir) } : {}
    const program = spawnProgram({ ...spec, nodeArgs: this.nodeArgsFor(spec), cwd, worker: { index, count: this.count }, ...adopt })
    program.onMessage((message: ProgramMessage, handle) => {
      // Fresh listening sockets register here; a successor's only count once it serves.
      if (message.dsu === 'listener' && handle) {
        this.listeners.set(message.key, handle)
        this.slot(index).keys.add(message.key)
      }
      if (message.dsu === 'refused') this.refuse(message.error, index)
    })
    void program.exited.then((exit) => this.onExit(program, exit, index))
    return program
  }

  /** The program did what dsu cannot supervise: say so by name and stop, whatever the restart policy. */
  private refuse(error: WireError, index: number): void {
    if (this.refusal) return
    this.refusal = error
    this.options.log(`dsu: ${error.code}: ${error.message}${this.count > 1 ? ` (worker ${index})` : ''}; stopping`)
    if (this.control) void this.stop()
  }

  private async onExit(program: ProgramProcess, exit: Exit, index = 0): Promise<void> {
    const slot = this.slot(index)
    await (this.count > 1 ? slot.upgrading : this.upgrading)?.catch(() => {})
    if (program !== slot.current || this.stopping || this.discarded.has(program) || this.refusal) return
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
    const who = this.count > 1 ? ` worker ${index}` : ''
    this.options.log(`dsu: ${program.version}${who} (pid ${program.pid}) ${how}; DSU_ERR_PROGRAM_EXITED`)
    this.journal?.recordEvent({ kind: exit.code === 0 ? 'exit' : 'crash', version: program.version, entry: program.entry, pid: program.pid, code: exit.code, signal: exit.signal, ...(this.count > 1 ? { detail: { worker: index } } : {}) })
    slot.crashes.push(Date.now())
    const policy = this.options.restart ?? DEFAULT_RESTART
    const delay = nextRestart(policy, slot.crashes, exit.code)
    if (delay !== null) {
      const restarting = this.restart(slot, program, delay)
      slot.restarting = restarting
      await restarting
      if (slot.restarting === restarting) slot.restarting = null
      return
    }
    if (policy.mode !== 'no' && !(policy.mode === 'on-failure' && exit.code === 0)) {
      this.options.log(`dsu: DSU_ERR_CRASH_LOOP: ${program.version}${who} crashed ${slot.crashes.length} times, more than ${policy.maxRestarts} within ${policy.windowMs / 1000}s; giving up`)
    }
    await this.giveUp(exit.code === 0 ? 0 : (exit.code ?? 1))
  }

  /** No restart: dsu run ends, stopping the workers still running. */
  private async giveUp(code: number): Promise<void> {
    this.stopping = true
    await Promise.all(this.slots.filter((s) => !s.current.exit).map(async (s) => {
      void s.current.send({ dsu: 'stop', timeoutMs: this.options.stopTimeoutMs })
      const timer = setTimeout(() => s.current.kill('SIGKILL'), this.options.stopTimeoutMs + 1000)
      await s.current.exited
      clearTimeout(timer)
    }))
    this.closeControl()
    this.resolveDone(code)
  }

  /**
   * Crash restart: from the newest checkpoint that loads, keeping the
   * listening sockets; bad checkpoints are skipped (and not tried again), and
   * with none left the program starts with fresh state. With several
   * workers, only the worker that died restarts, from its own checkpoints.
   */
  private async restart(slot: Slot, crashed: ProgramProcess, delayMs: number): Promise<void> {
    if (this.count === 1 || !this.busy) this.busy = 'restart'
    const who = this.count > 1 ? ` worker ${slot.index}` : ''
    this.options.log(`dsu: restarting ${crashed.version}${who} in ${delayMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, delayMs))
    if (this.stopping) return
    const { entry, version } = crashed
    try {
      const ids = checkpointIds(this.slotStateDir(slot.index)).filter((id) => !slot.badCheckpoints.has(id))
      const restored = await this.bringUp(slot.index, entry, version, ids)
      const next = restored.program
      slot.restarts++
      const from = restored.checkpoint ? `checkpoint ${restored.checkpoint.id}` : 'no checkpoint: state initialised'
      this.journal?.recordEvent({ kind: 'restart', version: next.version, entry: next.entry, pid: next.pid, detail: { from, delayMs, ...(restored.skipped.length ? { skipped: restored.skipped } : {}), ...(this.count > 1 ? { worker: slot.index } : {}) } })
      this.options.log(`dsu: restarted ${next.version}${who} (pid ${next.pid}) from ${from}`)
    } catch (error) {
      if (this.stopping) return
      // Its exit, if it died, goes through onExit and counts as another crash.
      const e = error as { code?: string; message?: string }
      this.options.log(`dsu: restart of ${version}${who} failed: ${e.code ?? 'DSU_ERR_INTERNAL'}: ${e.message}`)
      if (slot.current === crashed || this.discarded.has(slot.current)) {
        // No process of this attempt is left whose exit would count as another
        // crash and retry: stop rather than supervise nothing.
        this.options.log(`dsu: giving up on ${version}${who}: no program is running`)
        await this.giveUp(crashed.exit?.code || 1)
        return
      }
      slot.current.kill('SIGKILL')
    } finally {
      if (this.busy === 'restart' && this.slots.every((s) => s === slot || !s.restarting)) this.busy = null
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
      case 'checkpoint': {
        if (request.list) return this.checkpoints()
        const all = await this.checkpointAll()
        return { checkpoint: all[0], ...(this.count > 1 ? { workers: all } : {}) }
      }
      case 'rollback':
        return wireResult(await this.rollback(emit, request.deadlines, request.strategy))
      case 'upgrade':
        return wireResult(await this.upgrade(request, emit))
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

/** An upgrade's result as the CLI gets it: processes become pids. */
function wireResult(result: UpgradeResult): Record<string, unknown> {
  const { serving, servingAll, quiescedAt: _q, servingAt: _s, ...rest } = result as FleetResult
  return { ...rest, pid: serving.pid, ...(servingAll ? { pids: servingAll.map((p) => p.pid) } : {}) }
}
