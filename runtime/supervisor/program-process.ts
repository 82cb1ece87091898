// One running version of the supervised program, as the supervisor sees it:
// a child process with an IPC channel that carries control messages and
// socket handles. Spawned with node:child_process itself, not execa: the
// supervisor runs for months and execa's module graph held 5 MB of its RSS
// (13 MB imported alone), for nothing it used here (no result, no buffering,
// SIGKILL only).
// Its stderr goes through the supervisor, which forwards every chunk to its own
// stderr and keeps the last lines, so a failed upgrade can say why the new
// version died.
import { spawn, type ChildProcess } from 'node:child_process'
import { DsuError, fromWire, type ErrorCode } from '../errors.js'
import { OutputTail, printable } from './output-tail.js'
import { ENV_ADOPT_SOCKET, ENV_FROM, ENV_LISTENERS, ENV_MANIFEST, ENV_ROLE, ENV_TRANSFORMER, ENV_TRANSFORMERS, ENV_VERSION, ENV_WORKER, ENV_WORKERS, isDsuMessage, type ProgramMessage, type Role, type RootManifest, type SupervisorMessage } from '../protocol.js'

export interface SpawnSpec {
  entry: string
  version: string
  role: Role
  transformer?: string | null
  transformers?: string | null
  /** The running version, and its roots, for chains and pre-flight. */
  from?: string
  manifest?: RootManifest[]
  listeners?: string[]
  nodeArgs?: string[]
  /** The program's working directory (default: the supervisor's). */
  cwd?: string
  /** `dsu run --workers N`: this process's index and N (DSU_WORKER, DSU_WORKERS). */
  worker?: { index: number; count: number }
  /** Where the program waits to be re-adopted should the supervisor die (program/orphan.ts). */
  adoptSocket?: string
}

export interface Exit { code: number | null; signal: string | null }

type MessageOf<T extends ProgramMessage['dsu']> = Extract<ProgramMessage, { dsu: T }>

/** The supervisor's view of a program process; spawnable fakes implement it in unit tests. */
export interface ProgramProcess {
  readonly pid: number
  readonly entry: string
  readonly version: string
  readonly startedAt: number
  readonly exited: Promise<Exit>
  readonly exit: Exit | null
  send(message: SupervisorMessage, handle?: unknown): Promise<void>
  onMessage(listener: (message: ProgramMessage, handle: unknown) => void): () => void
  /** Calls `listener` when the process exits (at once if it has); returns a remover. */
  onExit(listener: (exit: Exit) => void): () => void
  /**
   * Removes and returns the oldest received message of `type` not taken yet.
   * Several messages can arrive in one read, before a waiter for the second
   * one is registered; the inbox keeps them from being missed.
   */
  take(type: ProgramMessage['dsu']): ProgramMessage | undefined
  /** Forgets every untaken message (at the start of an upgrade). */
  clearInbox(): void
  kill(signal?: NodeJS.Signals): void
  /**
   * The last lines the process wrote to stderr (at most 20 lines, 4 KB), made
   * printable; '' when it wrote none. Waits (briefly) for the process to exit,
   * so that what it wrote just before dying is in. Fakes may leave it out.
   */
  recentStderr?(): Promise<string>
}

const INBOX_LIMIT = 64
/**
 * After the program exits, how long its stderr may stay open before the exit
 * counts anyway: a grandchild that inherited the pipe can hold it for ever.
 */
const STDERR_GRACE_MS = 1000

export function spawnProgram(spec: SpawnSpec): ProgramProcess {
  const env: Record<string, string> = { [ENV_ROLE]: spec.role, [ENV_VERSION]: spec.version }
  if (spec.transformer) env[ENV_TRANSFORMER] = spec.transformer
  else if (spec.transformers) env[ENV_TRANSFORMERS] = spec.transformers
  if (spec.from) env[ENV_FROM] = spec.from
  if (spec.manifest) env[ENV_MANIFEST] = JSON.stringify(spec.manifest)
  if (spec.listeners) env[ENV_LISTENERS] = JSON.stringify(spec.listeners)
  if (spec.adoptSocket) env[ENV_ADOPT_SOCKET] = spec.adoptSocket
  if (spec.worker) {
    env[ENV_WORKER] = String(spec.worker.index)
    env[ENV_WORKERS] = String(spec.worker.count)
  }
  const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.entry], {
    // The supervisor's environment plus the runtime's variables (as execa did).
    env: { ...process.env, ...env },
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    // stdout inherited; stderr piped, forwarded and tailed by ChildProgram,
    // never collected whole; fd 3 is the IPC channel (JSON serialization).
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    serialization: 'json',
    // Its own process group: a terminal's Ctrl-C reaches the supervisor only,
    // which then stops the program gracefully.
    detached: true,
  })
  return new ChildProgram(child, spec)
}

class ChildProgram implements ProgramProcess {
  readonly pid: number
  readonly entry: string
  readonly version: string
  readonly startedAt = Date.now()
  readonly exited: Promise<Exit>
  exit: Exit | null = null
  private readonly child: ChildProcess
  private inbox: ProgramMessage[] = []
  private readonly stderrTail = new OutputTail()
  private readonly exitListeners = new Set<(exit: Exit) => void>()

  constructor(child: ChildProcess, spec: SpawnSpec) {
    this.child = child
    this.pid = child.pid ?? -1
    this.entry = spec.entry
    this.version = spec.version
    child.on('message', (message: unknown) => {
      if (!isDsuMessage(message)) return
      this.inbox.push(message as ProgramMessage)
      if (this.inbox.length > INBOX_LIMIT) this.inbox.shift()
    })
    // Chunk by chunk, as with an inherited stderr; the tail keeps the end. A
    // slow reader of the supervisor's stderr slows the program, as it did when
    // the program wrote there itself, rather than filling the supervisor's memory.
    const stderr = child.stderr
    stderr?.on('data', (chunk: Buffer | string) => {
      this.stderrTail.push(chunk)
      if (!process.stderr.write(chunk)) {
        stderr.pause()
        process.stderr.once('drain', () => stderr.resume())
      }
    })
    this.exited = new Promise((resolve) => {
      const settle = (exit: Exit): void => {
        if (this.exit) return
        this.exit = exit
        resolve(exit)
        for (const listener of this.exitListeners) listener(exit)
        this.exitListeners.clear()
      }
      // 'close', not 'exit': it comes after the IPC channel is drained, so a
      // message sent just before dying is seen before the death is, and after
      // stderr ended, so the tail holds its last words.
      child.once('close', (code, signal) => settle({ code, signal }))
      child.once('exit', (code, signal) => {
        // 'close' also waits for stderr, which a grandchild may hold open.
        const timer = setTimeout(() => {
          if (!child.connected) settle({ code, signal })
          else child.once('disconnect', () => settle({ code, signal }))
        }, STDERR_GRACE_MS)
        timer.unref()
        child.once('close', () => clearTimeout(timer))
      })
      // on, not once: a second 'error' (a failed kill) must not be thrown.
      child.on('error', () => settle({ code: null, signal: null }))
    })
  }

  send(message: SupervisorMessage, handle?: unknown): Promise<void> {
    return new Promise((resolve) => {
      if (!this.child.connected) return resolve()
      this.child.send(message, handle as never, {}, () => resolve())
    })
  }

  onMessage(listener: (message: ProgramMessage, handle: unknown) => void): () => void {
    const wrapped = (message: unknown, handle: unknown): void => {
      if (isDsuMessage(message)) listener(message as ProgramMessage, handle)
    }
    this.child.on('message', wrapped)
    return () => this.child.off('message', wrapped)
  }

  onExit(listener: (exit: Exit) => void): () => void {
    if (this.exit) {
      listener(this.exit)
      return () => {}
    }
    // A fresh wrapper per call, so the same listener added twice is called twice.
    const wrapped = (exit: Exit): void => listener(exit)
    this.exitListeners.add(wrapped)
    return () => this.exitListeners.delete(wrapped)
  }

  take(type: ProgramMessage['dsu']): ProgramMessage | undefined {
    const i = this.inbox.findIndex((m) => m.dsu === type)
    return i === -1 ? undefined : this.inbox.splice(i, 1)[0]
  }

  clearInbox(): void {
    this.inbox = []
  }

  async recentStderr(): Promise<string> {
    if (!this.exit) {
      let timer: NodeJS.Timeout | undefined
      const later = new Promise<void>((resolve) => (timer = setTimeout(resolve, STDERR_GRACE_MS * 2)))
      await Promise.race([this.exited, later])
      clearTimeout(timer)
    }
    return printable(this.stderrTail.text())
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exit) return
    try {
      this.child.kill(signal)
    } catch {
      // already gone
    }
  }
}

/**
 * Waits for one message type from a program. Rejects if the program sends one
 * of `failures` (carrying a wire error), exits, the deadline passes, or
 * `signal` aborts (with its reason: the upgrade's phase deadlines use it).
 */
export function waitFor<T extends ProgramMessage['dsu']>(
  program: ProgramProcess,
  type: T,
  options: { timeoutMs?: number; signal?: AbortSignal; phase: string; failures?: ProgramMessage['dsu'][]; exitCode?: ErrorCode; timeoutCode?: ErrorCode },
): Promise<MessageOf<T>> {
  return new Promise((resolve, reject) => {
    for (const t of [type, ...(options.failures ?? [])]) {
      const early = program.take(t)
      if (!early) continue
      if (early.dsu === type) return resolve(early as MessageOf<T>)
      if ('error' in early) {
        const error = fromWire(early.error)
        error.phase = options.phase
        return reject(error)
      }
    }
    if (options.signal?.aborted) return reject(options.signal.reason)
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      done()
      reject(new DsuError(options.timeoutCode ?? 'DSU_ERR_PHASE_TIMEOUT',
        `${options.phase}: ${program.version} did not answer within ${options.timeoutMs} ms`, { phase: options.phase }))
    }, options.timeoutMs)
    const onAbort = (): void => {
      done()
      reject(options.signal!.reason)
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const off = program.onMessage((message) => {
      if (message.dsu === type) {
        done()
        program.take(type)
        resolve(message as MessageOf<T>)
      } else if (options.failures?.includes(message.dsu) && 'error' in message) {
        done()
        program.take(message.dsu)
        const error = fromWire(message.error)
        error.phase = options.phase
        reject(error)
      }
    })
    // A listener removed when this wait ends: a supervisor answering status
    // requests for months must not pile up closures on the exit promise.
    let offExit: (() => void) | undefined
    offExit = program.onExit((exit) => {
      done()
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
      reject(new DsuError(options.exitCode ?? 'DSU_ERR_SUCCESSOR_EXITED',
        `${options.phase}: ${program.version} (pid ${program.pid}) ${how}`, { phase: options.phase }))
    })
    function done(): void {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      off()
      offExit?.()
    }
  })
}
