// The supervisor behind `dsu run`: spawns the program, holds a copy of every
// listening handle, owns the control socket, and runs upgrades one at a time.
// Invariant (guarantee 1): at most two program processes exist, and at most
// one of them is uncommitted; a second upgrade request is refused.
import fs from 'node:fs'
import type net from 'node:net'
import path from 'node:path'
import { DsuError } from '../errors.js'
import type { ProgramMessage } from '../protocol.js'
import { Journal } from '../journal/index.js'
import { openControlSocket } from './control-server.js'
import type { ControlRequest } from './control-protocol.js'
import { resolveEntry, resolveTransformer, versionOf } from './entry.js'
import { spawnProgram, waitFor, type Exit, type ProgramProcess, type SpawnSpec } from './program-process.js'
import { controlSocketPath, prepareStateDir } from './state-dir.js'
import { runUpgrade, type UpgradeEvent, type UpgradeResult } from './upgrade.js'

export interface SupervisorOptions {
  entry: string
  /** What the user named (file or directory): SIGHUP upgrades to what stands there now. */
  configuredEntry?: string
  version: string
  stateDir: string
  /** Per-phase deadline of an upgrade unless the request sets one, ms. */
  timeoutMs: number
  /** Grace period of a stop before the program is killed, ms. */
  stopTimeoutMs: number
  /** Extra node flags for every program process. */
  nodeArgs: string[]
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
  private stopping = false
  private lastUpgrade: UpgradeSummary | null = null
  private streams = 0
  private resolveDone!: (code: number) => void
  /** Resolves with the exit code `dsu run` should exit with. */
  readonly done = new Promise<number>((resolve) => (this.resolveDone = resolve))

  constructor(options: SupervisorOptions) {
    this.options = options
  }

  async start(): Promise<void> {
    prepareStateDir(this.options.stateDir)
    this.control = await openControlSocket(controlSocketPath(this.options.stateDir), (request, emit) => this.handle(request, emit))
    // Guarantee 7; a journal that cannot be written is reported, never fatal.
    this.journal = Journal.open(this.options.stateDir, { onError: (e) => this.options.log(`dsu: ${e.code}: ${e.message}`) })
    this.current = this.spawn({ entry: this.options.entry, version: this.options.version, role: 'primary' })
    try {
      await waitFor(this.current, 'hello', { timeoutMs: this.options.timeoutMs, phase: 'start', exitCode: 'DSU_ERR_PROGRAM_EXITED' })
    } catch (error) {
      this.current.kill()
      this.closeControl()
      throw error
    }
    this.journal.recordEvent({ kind: 'start', version: this.current.version, entry: this.current.entry, pid: this.current.pid })
    this.options.log(`dsu: running ${path.basename(this.options.entry)} ${this.options.version} (pid ${this.current.pid}); control socket ${controlSocketPath(this.options.stateDir)}`)
  }

  status(): Record<string, unknown> {
    const p = this.current
    return {
      pid: p.pid,
      version: p.version,
      entry: p.entry,
      startedAt: new Date(p.startedAt).toISOString(),
      uptimeMs: Date.now() - p.startedAt,
      stateDir: this.options.stateDir,
      supervisorPid: process.pid,
      listeners: [...this.listeners.keys()],
      upgrading: this.upgrading !== null,
      lastUpgrade: this.lastUpgrade,
    }
  }

  async upgrade(target: { entry: string; transformer: string | null; timeoutMs?: number; version?: string }, report: (e: UpgradeEvent) => void = () => {}): Promise<UpgradeResult> {
    if (this.upgrading || this.stopping) {
      throw new DsuError('DSU_ERR_UPGRADE_IN_PROGRESS', this.stopping
        ? 'the supervisor is stopping; no upgrade can start'
        : `an upgrade of ${this.current.version} is already running; one upgrade at a time`)
    }
    const entry = resolveEntry(target.entry)
    const version = target.version ?? versionOf(entry)
    const old = this.current
    // A conventional dsu.transform.js maps the previous version's shape; when
    // the version label did not change (a reload of the same release) the
    // state already has the new shape, so only an explicit transformer runs.
    const transformer = target.transformer || version !== old.version ? resolveTransformer(target.transformer, entry) : null
    this.options.log(`dsu: upgrading ${old.version} → ${version} (${entry})`)
    this.upgrading = runUpgrade(old, { entry, version, transformer, timeoutMs: target.timeoutMs ?? this.options.timeoutMs }, {
      spawn: (spec) => this.spawn(spec),
      now: () => performance.now(),
      streamPath: () => path.join(this.options.stateDir, `stream-${process.pid}-${++this.streams}.sock`),
      listeners: this.listeners,
      nodeArgs: this.options.nodeArgs,
    }, report)
    const startedAt = Date.now()
    try {
      const result = await this.upgrading
      this.current = result.serving
      this.journal?.recordUpgrade({
        ...result, startedAt, fromEntry: old.entry, toEntry: entry, transformer,
        error: result.error ?? undefined,
      })
      this.lastUpgrade = {
        outcome: result.outcome, from: result.from, to: result.to, at: new Date().toISOString(),
        totalMs: result.totalMs, pauseMs: result.pauseMs, ...(result.error ? { error: result.error } : {}),
      }
      this.options.log(result.outcome === 'committed'
        ? `dsu: committed ${result.from} → ${result.to} (pid ${result.serving.pid}) in ${result.totalMs.toFixed(1)} ms, pause ${result.pauseMs?.toFixed(1)} ms`
        : `dsu: rolled back ${result.from} → ${result.to} in ${result.error?.phase}: ${result.error?.code} ${result.error?.message}; ${result.from} keeps serving`)
      return result
    } finally {
      this.upgrading = null
    }
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

  private spawn(spec: SpawnSpec): ProgramProcess {
    const program = spawnProgram({ ...spec, nodeArgs: this.options.nodeArgs })
    program.onMessage((message: ProgramMessage, handle) => {
      // Fresh listening sockets register here; a successor's only count once it serves.
      if (message.dsu === 'listener' && handle) this.listeners.set(message.key, handle)
    })
    void program.exited.then((exit) => this.onExit(program, exit))
    return program
  }

  private async onExit(program: ProgramProcess, exit: Exit): Promise<void> {
    await this.upgrading?.catch(() => {})
    if (program !== this.current || this.stopping) return
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
    this.options.log(`dsu: ${program.version} (pid ${program.pid}) ${how}; DSU_ERR_PROGRAM_EXITED`)
    this.journal?.recordEvent({ kind: exit.code === 0 ? 'exit' : 'crash', version: program.version, entry: program.entry, pid: program.pid, code: exit.code, signal: exit.signal })
    this.stopping = true
    this.closeControl()
    this.resolveDone(exit.code === 0 ? 0 : (exit.code ?? 1))
  }

  private async handle(request: ControlRequest, emit: (event: unknown) => void): Promise<unknown> {
    switch (request.cmd) {
      case 'status':
        return this.status()
      case 'stop': {
        const exit = await this.stop(request.timeoutMs)
        return { stopped: true, exit }
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
