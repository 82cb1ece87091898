// The supervisor's end of one program's control channel, whatever carries it
// (a child's IPC channel, program-process.ts; a re-adopted program's socket,
// adoption.ts; a fake in unit tests). It owns what both used to duplicate:
// the exit, its listeners, and how replies find their request.
//
// Requests that expect replies carry a `seq`; the program echoes it as `ack`
// (protocol.ts, REPLIES), and the reply goes to that request alone: a late
// reply to an earlier request (a checkpoint that timed out) has an ack nobody
// waits on and is dropped. Events (protocol.ts) go to listeners; the
// milestones among them (hello, listener, booted, ready) are remembered, as
// facts about the process, so a wait that starts after one arrived still sees it.
import { DsuError, fromWire, type ErrorCode, type WireError } from '../errors.js'
import { parseProgramMessage, REPLIES, type ProgramMessage, type ReplyType, type RequestMessage, type RequestType, type SupervisorMessage } from '../protocol.js'

export interface Exit { code: number | null; signal: string | null }

export type MessageOf<T extends ProgramMessage['dsu']> = Extract<ProgramMessage, { dsu: T }>

/**
 * How long a wait may last, and what it says when it ends without its
 * message: the program exited (`exitCode`, DSU_ERR_SUCCESSOR_EXITED by
 * default), the time ran out (`timeoutCode`, DSU_ERR_PHASE_TIMEOUT), or
 * `signal` aborted (with its reason: the upgrade's phase deadlines use it).
 */
export interface Wait {
  timeoutMs?: number
  signal?: AbortSignal
  phase: string
  exitCode?: ErrorCode
  timeoutCode?: ErrorCode
}

/** Messages a program sends once, remembered so a later wait sees them. */
export type Milestone = 'hello' | 'listener' | 'booted' | 'ready'
const MILESTONES: ReadonlySet<string> = new Set<Milestone>(['hello', 'listener', 'booted', 'ready'])

/** What the link needs of a request to hand it its replies. */
interface OpenRequest {
  deliver(message: ProgramMessage): void
  awaits(type: string): boolean
}

/** One request and the replies it got so far (the first of each type; a failure ends it). */
export class Request<R extends RequestType = RequestType> implements OpenRequest {
  private readonly got = new Map<string, ProgramMessage>()
  private failure: WireError | null = null
  private readonly listeners = new Set<(message: ProgramMessage) => void>()
  private readonly changed = new Set<() => void>()

  constructor(private readonly link: ProgramLink, readonly seq: number, readonly type: R) {}

  /** The reply of `type`, when it comes (at once if it came); rejects if the request failed. */
  reply<T extends ReplyType<R>>(type: T, wait: Wait): Promise<MessageOf<T>> {
    return this.link.within(wait, (resolve, reject) => {
      const check = (): boolean => {
        if (this.failure) {
          const error = fromWire(this.failure)
          error.phase = wait.phase
          reject(error)
          return true
        }
        const message = this.got.get(type)
        if (message) resolve(message as MessageOf<T>)
        return message !== undefined
      }
      if (check()) return () => {}
      const onChange = (): void => void check()
      this.changed.add(onChange)
      return () => this.changed.delete(onChange)
    })
  }

  /** Calls `listener` with every later reply (progress reports); returns a remover. */
  onReply(listener: (message: MessageOf<ReplyType<R>>) => void): () => void {
    const wrapped = listener as (message: ProgramMessage) => void
    this.listeners.add(wrapped)
    return () => void this.listeners.delete(wrapped)
  }

  /** Forgets the request: replies still to come are stale and dropped. */
  close(): void {
    this.link.forget(this.seq)
    this.listeners.clear()
  }

  /** @internal A reply with this request's seq. */
  deliver(message: ProgramMessage): void {
    if (!(REPLIES[this.type] as readonly string[]).includes(message.dsu)) return // no reply to this request
    if ('error' in message) this.failure ??= message.error
    else if (!this.got.has(message.dsu)) this.got.set(message.dsu, message)
    for (const listener of [...this.listeners]) listener(message)
    for (const onChange of [...this.changed]) onChange()
  }

  /** @internal Whether a reply of `type` without an ack (an older runtime's) may be this request's. */
  awaits(type: string): boolean {
    return this.failure === null && (REPLIES[this.type] as readonly string[]).includes(type) && !this.got.has(type)
  }
}

/**
 * A program's control channel as the supervisor uses it. Subclasses give
 * it a way to send (`transmit`), hand it every message received
 * (`receive`), and say when the program is gone (`settle`).
 */
export abstract class ProgramLink {
  abstract readonly pid: number
  abstract readonly entry: string
  abstract readonly version: string
  readonly startedAt = Date.now()
  exit: Exit | null = null
  readonly exited: Promise<Exit>
  private resolveExited!: (exit: Exit) => void
  private readonly exitListeners = new Set<(exit: Exit) => void>()
  private readonly messageListeners = new Set<(message: ProgramMessage, handle: unknown) => void>()
  private readonly open = new Map<number, OpenRequest>()
  private seq = 0
  private readonly reached = new Map<Milestone, ProgramMessage>()
  private readonly reachedListeners = new Set<() => void>()
  /** A restore-failed without an ack: the new version failed on its own. */
  private failure: WireError | null = null
  /** Whether the program echoes seq (its hello said so); else replies match by type. */
  private acks = false

  constructor() {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve))
  }

  protected abstract transmit(message: SupervisorMessage, handle?: unknown): Promise<void>
  abstract kill(signal?: NodeJS.Signals): void

  /** Sends a message that expects no reply (resume, stop, listen-handle, a relayed connection). */
  send(message: SupervisorMessage, handle?: unknown): Promise<void> {
    return this.transmit(message, handle)
  }

  /** Sends a request with a fresh seq; its replies are awaited on what it returns. Close it when done. */
  request<R extends RequestType>(message: Extract<RequestMessage, { dsu: R }>): Request<R> {
    const request = new Request(this, ++this.seq, message.dsu)
    this.open.set(request.seq, request)
    void this.send({ ...message, seq: request.seq })
    return request
  }

  /** A milestone's message, when the program reaches it (at once if it has). */
  milestone<T extends Milestone>(type: T, wait: Wait): Promise<MessageOf<T>> {
    return this.within(wait, (resolve, reject) => {
      const check = (): boolean => {
        const message = this.reached.get(type)
        if (message) resolve(message as MessageOf<T>)
        else if (this.failure) {
          const error = fromWire(this.failure)
          error.phase = wait.phase
          reject(error)
        }
        return message !== undefined || this.failure !== null
      }
      if (check()) return () => {}
      const onChange = (): void => void check()
      this.reachedListeners.add(onChange)
      return () => this.reachedListeners.delete(onChange)
    })
  }

  /** Every well-formed message, replies included (listeners pick the events they handle). */
  onMessage(listener: (message: ProgramMessage, handle: unknown) => void): () => void {
    // A fresh wrapper per call, so the same listener added twice is called twice.
    const wrapped = (message: ProgramMessage, handle: unknown): void => listener(message, handle)
    this.messageListeners.add(wrapped)
    return () => void this.messageListeners.delete(wrapped)
  }

  /** Calls `listener` when the process exits (at once if it has); returns a remover. */
  onExit(listener: (exit: Exit) => void): () => void {
    if (this.exit) {
      listener(this.exit)
      return () => {}
    }
    const wrapped = (exit: Exit): void => listener(exit)
    this.exitListeners.add(wrapped)
    return () => void this.exitListeners.delete(wrapped)
  }

  /** Hands over one message from the program, as its transport received it. */
  protected receive(value: unknown, handle?: unknown): void {
    const message = parseProgramMessage(value)
    if (!message) return // malformed: a program's bug (or worse) must not reach the supervisor's logic
    if (message.dsu === 'hello' && message.acks === true) this.acks = true
    if (message.ack !== undefined) this.open.get(message.ack)?.deliver(message)
    else if (!this.acks && message.dsu in REPLIES_OF) {
      // An older runtime, which does not echo seq: the oldest request waiting for this type.
      for (const request of this.open.values()) {
        if (request.awaits(message.dsu)) {
          request.deliver(message)
          break
        }
      }
    }
    if (message.ack === undefined) {
      if (MILESTONES.has(message.dsu) && !this.reached.has(message.dsu as Milestone)) this.reached.set(message.dsu as Milestone, message)
      if (message.dsu === 'restore-failed') this.failure ??= message.error
      for (const onChange of [...this.reachedListeners]) onChange()
    }
    for (const listener of [...this.messageListeners]) listener(message, handle)
  }

  /** Records the exit (once) and tells every listener. */
  protected settle(exit: Exit): void {
    if (this.exit) return
    this.exit = exit
    this.resolveExited(exit)
    for (const listener of [...this.exitListeners]) listener(exit)
    this.exitListeners.clear()
    this.open.clear()
  }

  /** @internal */
  forget(seq: number): void {
    this.open.delete(seq)
  }

  /**
   * @internal A wait that ends with `subscribe`'s resolve or reject, the
   * program's exit, the timeout, or the abort, and leaves nothing behind: a
   * supervisor answering status requests for months must not pile up listeners.
   */
  within<T>(wait: Wait, subscribe: (resolve: (value: T) => void, reject: (error: unknown) => void) => () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let finished = false
      let unsubscribe: () => void = () => {}
      let offExit: () => void = () => {}
      let timer: NodeJS.Timeout | undefined
      const done = (): boolean => {
        if (finished) return false
        finished = true
        clearTimeout(timer)
        wait.signal?.removeEventListener('abort', onAbort)
        unsubscribe()
        offExit()
        return true
      }
      const onAbort = (): void => void (done() && reject(wait.signal!.reason))
      unsubscribe = subscribe((value) => void (done() && resolve(value)), (error) => void (done() && reject(error)))
      if (finished) return
      if (wait.signal?.aborted) return onAbort()
      wait.signal?.addEventListener('abort', onAbort, { once: true })
      if (wait.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (done()) {
            reject(new DsuError(wait.timeoutCode ?? 'DSU_ERR_PHASE_TIMEOUT',
              `${wait.phase}: ${this.version} did not answer within ${wait.timeoutMs} ms`, { phase: wait.phase }))
          }
        }, wait.timeoutMs)
      }
      offExit = this.onExit((exit) => {
        if (!done()) return
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
        reject(new DsuError(wait.exitCode ?? 'DSU_ERR_SUCCESSOR_EXITED',
          `${wait.phase}: ${this.version} (pid ${this.pid}) ${how}`, { phase: wait.phase }))
      })
    })
  }
}

/** Reply types (any request's), for matching an older runtime's replies, which carry no ack. */
const REPLIES_OF: Record<string, true> = Object.fromEntries(Object.values(REPLIES).flat().map((type) => [type, true]))

/** Sends `message`, waits for its `reply`, and forgets the request whichever way it ends. */
export async function ask<R extends RequestType, T extends ReplyType<R>>(
  program: { request(message: Extract<RequestMessage, { dsu: R }>): Request<R> },
  message: Extract<RequestMessage, { dsu: R }>,
  reply: T,
  wait: Wait,
): Promise<MessageOf<T>> {
  const request = program.request(message)
  try {
    return await request.reply(reply, wait)
  } finally {
    request.close()
  }
}
