// Re-adoption: a `dsu run` started on a state dir whose previous supervisor
// died finds the program that kept serving (program/orphan.ts) on
// <state-dir>/adopt.sock, and makes that connection its IPC channel the way the
// program did: child_process._forkChild(fd) on a socket nothing reads, so
// process.send()/'message' carry messages and handles between the two as if
// the program were its child. The program then sends its listening sockets and
// hello; the supervisor treats it as the running version (AdoptedProgram) and
// upgrades it into a fresh process of its own (supervisor.ts), which moves
// state and connections as every upgrade does.
import cp from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import { DsuError } from '../errors.js'
import type { ProgramMessage, SupervisorMessage } from '../protocol.js'
import { ProgramLink } from './program-link.js'
import type { ProgramProcess } from './program-process.js'

/**
 * A connection to a program waiting to be re-adopted, or null when none waits
 * (no socket, or a stale one, which is removed).
 */
export function connectOrphan(file: string): Promise<net.Socket | null> {
  try {
    if (!fs.lstatSync(file).isSocket()) return Promise.resolve(null)
  } catch {
    return Promise.resolve(null)
  }
  return new Promise((resolve) => {
    const socket = new net.Socket()
    // Paused before it connects: a connected socket otherwise starts reading,
    // and the fd must be read only by the channel made from it.
    socket.pause()
    socket.once('connect', () => resolve(socket))
    socket.once('error', () => {
      try {
        fs.unlinkSync(file) // its program is gone
      } catch {
        // already removed
      }
      resolve(null)
    })
    socket.connect(file)
  })
}

/** Kept, never closed: the channel owns their fds. */
const channels: net.Socket[] = []

/**
 * Makes `socket` this process's IPC channel and waits for the program's
 * hello, collecting the listening sockets it sends before it into `listeners`.
 */
export async function adoptOrphan(socket: net.Socket, options: { listeners: Map<string, unknown>; timeoutMs: number; file: string }): Promise<AdoptedProgram> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if ((process as { channel?: unknown }).channel) {
    socket.destroy()
    throw new DsuError('DSU_ERR_ADOPT_FAILED', `a program left running by an earlier supervisor waits on ${options.file}, but this dsu run was started with an IPC channel of its own (NODE_CHANNEL_FD), which re-adoption needs; start dsu run from a shell or a service manager`)
  }
  if (typeof (cp as unknown as { _forkChild?: unknown })._forkChild !== 'function') {
    socket.destroy()
    throw new DsuError('DSU_ERR_ADOPT_FAILED', `a program left running by an earlier supervisor waits on ${options.file}, but this Node (${process.version}) has no child_process._forkChild to re-adopt it with; stop that program (fuser ${options.file} names it), then run dsu run with the Node it was started with, or with --restore latest`)
  }
  if (typeof fd !== 'number' || fd < 0) throw new DsuError('DSU_ERR_ADOPT_FAILED', `the connection to ${options.file} has no file descriptor`)
  socket.unref()
  channels.push(socket)
  const program = new AdoptedProgram()
  const hello = new Promise<Extract<ProgramMessage, { dsu: 'hello' }>>((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new DsuError('DSU_ERR_ADOPT_FAILED', `the program waiting on ${options.file} did not answer within ${options.timeoutMs} ms; it may be stuck: find it with \`fuser ${options.file}\` (or ps), stop it, then run dsu run again (--restore latest loads the last checkpoint)`))
    }, options.timeoutMs)
    const onDisconnect = (): void => {
      off()
      reject(new DsuError('DSU_ERR_ADOPT_FAILED', `the program waiting on ${options.file} closed the connection before it said hello; run dsu run again`))
    }
    const off = program.onMessage((message, handle) => {
      if (message.dsu === 'listener' && handle) options.listeners.set(message.key, handle)
      if (message.dsu !== 'hello') return
      clearTimeout(timer)
      process.off('disconnect', onDisconnect)
      off()
      resolve(message)
    })
    process.once('disconnect', onDisconnect)
  })
  ;(cp as unknown as { _forkChild(fd: number, serialization: string): void })._forkChild(fd, 'json')
  program.bind(await hello)
  return program
}

/**
 * The adopted program as the supervisor sees every program. It is no child:
 * its exit is seen as the channel closing, then its pid disappearing; its
 * stderr went to the dead supervisor, so there is none to show.
 */
export class AdoptedProgram extends ProgramLink implements ProgramProcess {
  pid = -1
  entry = ''
  version = ''
  private handedOff = false

  constructor() {
    super()
    process.on('message', (message: unknown, handle: unknown) => this.receive(message, handle))
    this.onMessage((message) => {
      if (message.dsu === 'handed-off') this.handedOff = true
    })
    process.once('disconnect', () => {
      // Gone for good only once its pid is: a channel closed on a live
      // program must not let a crash restart start a second copy.
      const settle = (): void => {
        if (this.pid > 0 && alive(this.pid)) return void setTimeout(settle, 50).unref()
        this.settle({ code: this.handedOff ? 0 : null, signal: null })
      }
      settle()
    })
  }

  bind(hello: Extract<ProgramMessage, { dsu: 'hello' }>): void {
    this.pid = hello.pid
    this.version = hello.version
    this.entry = hello.entry ?? ''
  }

  protected transmit(message: SupervisorMessage, handle?: unknown): Promise<void> {
    return new Promise((resolve) => {
      if (!process.send || !process.connected) return resolve()
      process.send(message, handle as never, {}, () => resolve())
    })
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exit || this.pid <= 0) return
    try {
      process.kill(this.pid, signal)
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  // Its parent died, so init (or a subreaper that may never reap) is its
  // parent now: a zombie has exited.
  try {
    return !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true // no /proc: the signal said it exists
  }
}
