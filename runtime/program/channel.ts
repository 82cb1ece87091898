// The program's end of the IPC channel to the supervisor. Without a supervisor
// (`node server.js`) `role` is null and every runtime call degrades to a no-op,
// so programs still run on their own.
import { ENV_ROLE, isDsuMessage, type ProgramMessage, type Role, type SupervisorMessage } from '../protocol.js'

function detectRole(): Role | null {
  const value = process.env[ENV_ROLE]
  if (typeof process.send !== 'function') return null
  // A node:cluster worker inherits the environment and has an IPC channel,
  // but it is cluster's, not the supervisor's (guards.ts refuses the fork).
  if (process.env.NODE_UNIQUE_ID !== undefined) return null
  return value === 'primary' || value === 'successor' ? value : null
}

export const role: Role | null = detectRole()

type Handler = (message: SupervisorMessage, handle: unknown) => void
const handlers = new Map<string, Handler>()
let listening = false
let holds = 0

/** Registers the handler for one supervisor message type. */
export function on<T extends SupervisorMessage['dsu']>(
  type: T,
  handler: (message: Extract<SupervisorMessage, { dsu: T }>, handle: unknown) => void,
): void {
  handlers.set(type, handler as Handler)
  if (listening) return
  listening = true
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isDsuMessage(message)) return
    handlers.get(message.dsu)?.(message as SupervisorMessage, handle)
  })
  // The channel must not keep a finished program alive; `hold()` refs it
  // while the runtime itself waits on the supervisor.
  unrefChannel()
}

export function send(message: ProgramMessage, handle?: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve()
    // A message waiting in the channel's queue (behind a handle's ACK) keeps
    // no reference of its own: hold the process until it is written.
    const release = hold()
    if (handle !== undefined) watchEnd()
    // Errors here mean the supervisor is gone; the program keeps running.
    process.send(message, handle as never, {}, () => {
      release()
      resolve()
    })
  })
}

/**
 * Answers `request`: the reply echoes its seq as `ack`, which is how the
 * supervisor matches it to the request (protocol.ts, REPLIES).
 */
export function reply(request: { seq?: number }, message: ProgramMessage, handle?: unknown): Promise<void> {
  return send(Number.isSafeInteger(request.seq) ? { ...message, ack: request.seq } : message, handle)
}

/** Keeps the process alive while the runtime awaits the supervisor. */
export function hold(): () => void {
  holds++
  refChannel()
  let released = false
  return () => {
    if (released) return
    released = true
    if (--holds === 0) unrefChannel()
  }
}

interface RefCounted { ref(): void; unref(): void }
function channel(): RefCounted | undefined {
  return (process as unknown as { channel?: RefCounted }).channel
}
function refChannel(): void { channel()?.ref() }
function unrefChannel(): void { if (holds === 0) channel()?.unref() }

const goneListeners = new Set<() => void>()

/**
 * Calls `listener` when the supervisor is gone: the channel's 'disconnect'
 * event, or its end while a handle this process sent still awaited the
 * supervisor's acknowledgement, for which Node emits no event (watchEnd()).
 */
export function onSupervisorGone(listener: () => void): void {
  if (goneListeners.size === 0) process.on('disconnect', supervisorGone)
  goneListeners.add(listener)
}

function supervisorGone(): void {
  for (const listener of goneListeners) listener()
}

const WATCHED = Symbol('dsu.watched')
type Disconnect = ((this: unknown) => void) & { [WATCHED]?: true }

// Node postpones 'disconnect' while a handle it sent awaits the other side's
// acknowledgement (NODE_HANDLE_ACK), and when the channel then ends because
// the supervisor died, it closes the channel without ever emitting the event
// (lib/internal/child_process.js: onread at EOF calls target.disconnect(),
// which sees the queue and leaves it to a flush that never comes). Without
// this, a program that was sending its connections ahead in an upgrade's
// pause would not notice its supervisor's death and would stay paused. The
// end goes through process.disconnect(): wrapped here (again after a
// re-adoption, which sets up a new channel), it says so itself.
function watchEnd(): void {
  const p = process as unknown as { disconnect?: Disconnect; _handleQueue?: unknown; channel?: unknown }
  const original = p.disconnect
  if (!original || original[WATCHED]) return
  const watched: Disconnect = function (this: unknown) {
    const queued = p._handleQueue
    original.call(this)
    // Still open: the program disconnected itself, and the flush will emit 'disconnect'.
    if (queued) setImmediate(() => { if (!p.channel) supervisorGone() })
  }
  watched[WATCHED] = true
  p.disconnect = watched
}
