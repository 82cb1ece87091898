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
import { OutputTail, printable } from './output-tail.js'
import { ENV_ADOPT_SOCKET, ENV_FROM, ENV_LISTENERS, ENV_MANIFEST, ENV_ROLE, ENV_TRANSFORMER, ENV_TRANSFORMERS, ENV_VERSION, ENV_WORKER, ENV_WORKERS, type ProgramMessage, type RequestMessage, type RequestType, type Role, type RootManifest, type SupervisorMessage } from '../protocol.js'
import { choiceEnv, type TransformerChoice } from '../transformer-choice.js'
import { ProgramLink, type Exit, type MessageOf, type Milestone, type Request, type Wait } from './program-link.js'

export interface SpawnSpec {
  entry: string
  version: string
  role: Role
  /** What maps the state the new version receives (transformer-choice.ts). */
  transformer?: TransformerChoice | null
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

export type { Exit } from './program-link.js'

/** The supervisor's view of a program process; unit tests' fakes extend ProgramLink too. */
export interface ProgramProcess {
  readonly pid: number
  readonly entry: string
  readonly version: string
  readonly startedAt: number
  readonly exited: Promise<Exit>
  readonly exit: Exit | null
  /** A message that expects no reply. */
  send(message: SupervisorMessage, handle?: unknown): Promise<void>
  /** A request, numbered: its replies are matched by that number (program-link.ts). */
  request<R extends RequestType>(message: Extract<RequestMessage, { dsu: R }>): Request<R>
  /** Resolves when the program reached `type` (at once if it has). */
  milestone<T extends Milestone>(type: T, wait: Wait): Promise<MessageOf<T>>
  onMessage(listener: (message: ProgramMessage, handle: unknown) => void): () => void
  /** Calls `listener` when the process exits (at once if it has); returns a remover. */
  onExit(listener: (exit: Exit) => void): () => void
  kill(signal?: NodeJS.Signals): void
  /**
   * The last lines the process wrote to stderr (at most 20 lines, 4 KB), made
   * printable; '' when it wrote none. Waits (briefly) for the process to exit,
   * so that what it wrote just before dying is in. Fakes may leave it out.
   */
  recentStderr?(): Promise<string>
}

/**
 * After the program exits, how long its stderr may stay open before the exit
 * counts anyway: a grandchild that inherited the pipe can hold it for ever.
 */
const STDERR_GRACE_MS = 1000

export function spawnProgram(spec: SpawnSpec): ProgramProcess {
  const env: Record<string, string> = { [ENV_ROLE]: spec.role, [ENV_VERSION]: spec.version }
  Object.assign(env, choiceEnv(spec.transformer, { file: ENV_TRANSFORMER, dir: ENV_TRANSFORMERS }))
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

class ChildProgram extends ProgramLink implements ProgramProcess {
  readonly pid: number
  readonly entry: string
  readonly version: string
  private readonly child: ChildProcess
  private readonly stderrTail = new OutputTail()

  constructor(child: ChildProcess, spec: SpawnSpec) {
    super()
    this.child = child
    this.pid = child.pid ?? -1
    this.entry = spec.entry
    this.version = spec.version
    child.on('message', (message: unknown, handle: unknown) => this.receive(message, handle))
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
    const settle = (exit: Exit): void => this.settle(exit)
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
  }

  protected transmit(message: SupervisorMessage, handle?: unknown): Promise<void> {
    return new Promise((resolve) => {
      if (!this.child.connected) return resolve()
      this.child.send(message, handle as never, {}, () => resolve())
    })
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
