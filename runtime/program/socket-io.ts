// socket.io across an upgrade, through its own connectionStateRecovery. A
// socket.io connection cannot move: engine.io keeps each session (its
// transport, buffers, ping timers) in the old version's memory. What
// connectionStateRecovery keeps instead is small and plain: per namespace,
// the in-memory adapter's sessions (socket id, private id, rooms, data) and
// the packets broadcast lately, each with an offset. carrySocketIo(io) carries
// exactly that in a marked root. At quiescence the old version's clients lose
// their connection (a WebSocket gets 1012; a pending long-poll is answered
// with an engine.io "close" packet at commit) and reconnect to the new
// version with their private id and last offset: it restores the session —
// same socket id, same rooms, same data — and replays every packet they
// missed, in order. Emits the old version processed but could not
// acknowledge are sent again by clients that use `retries`.
import type http from 'node:http'
import { DsuError } from '../errors.js'
import { longLived } from './long-lived.js'
import { onQuiesced, onResume } from './quiescence.js'
import { state } from './roots.js'

/** A session as socket.io's SessionAwareAdapter keeps it (socket.io 4.6+). */
interface Session { sid: string; pid: string; rooms: string[]; data: unknown; disconnectedAt: number }
interface StoredPacket { id: string; opts: unknown; data: unknown[]; emittedAt: number }
interface AdapterLike { sessions?: unknown; packets?: unknown }
interface SocketLike { id: string; pid?: string; rooms: Set<string>; data: unknown }
interface NamespaceLike { name: string; adapter: AdapterLike; sockets: Map<string, SocketLike> }
type Middleware = (req: http.IncomingMessage & { _query?: Record<string, string> }, res: http.ServerResponse, next: (err?: Error) => void) => void
interface EngineLike { use?(fn: Middleware): void }

/** The part of a socket.io `Server` this uses. */
export interface SocketIoServerLike {
  _nsps: Map<string, NamespaceLike>
  of(name: string): NamespaceLike
  engine?: EngineLike
  bind?(engine: EngineLike): unknown
}

interface Carried { namespaces: Record<string, { sessions: Session[]; packets: StoredPacket[] }> }

/** The marked root's name: `dsu:socket.io`, or `dsu:socket.io:<name>` for another server. */
export const SOCKET_IO_ROOT = 'dsu:socket.io'

function sessionAware(adapter: AdapterLike): adapter is { sessions: Map<string, Session>; packets: StoredPacket[] } {
  return adapter.sessions instanceof Map && Array.isArray(adapter.packets)
}

/**
 * Carries socket.io's connection-state-recovery memory to the new version
 * (see the README, "socket.io"). Call it in every version, during init,
 * once the server is created with `connectionStateRecovery` and its
 * namespaces exist: `await carrySocketIo(io)`. A program with more than one
 * socket.io server names each further one: `carrySocketIo(io2, { name: 'admin' })`.
 */
export async function carrySocketIo(io: SocketIoServerLike, options: { name?: string } = {}): Promise<void> {
  if (!io || !(io._nsps instanceof Map) || typeof io.of !== 'function') {
    throw new DsuError('DSU_ERR_SOCKET_IO', 'carrySocketIo(io) needs a socket.io Server (4.6 or later)')
  }
  for (const nsp of io._nsps.values()) {
    if (!sessionAware(nsp.adapter)) {
      throw new DsuError('DSU_ERR_SOCKET_IO', `carrySocketIo(io): namespace "${nsp.name}" keeps no sessions in memory; ` +
        'create the server with { connectionStateRecovery: {} } and the default in-memory adapter')
    }
  }
  const root = options.name ? `${SOCKET_IO_ROOT}:${options.name}` : SOCKET_IO_ROOT
  const carried = await state<Carried>(root, () => ({ namespaces: {} }))
  // New version: the old version's sessions and packets go first, so an
  // offset a client got from the old version is found, and what this version
  // broadcast since it started (nothing yet, during init) follows it.
  for (const [name, saved] of Object.entries(carried.namespaces ?? {})) {
    const adapter = io.of(name).adapter
    if (!sessionAware(adapter)) {
      process.emitWarning(`dsu: carrySocketIo: namespace "${name}" of this version keeps no sessions; its ${saved.sessions.length} carried sessions are dropped`)
      continue
    }
    for (const session of saved.sessions) adapter.sessions.set(session.pid, session)
    // The adapter reads this.packets afresh each time (no spread: it may be long).
    adapter.packets = saved.packets.concat(adapter.packets)
  }
  carried.namespaces = {}

  // Captured right after this hook: the sessions of clients that left, and
  // one for every client still connected (as if it had just left: it is
  // about to), and the packets they may have missed. The old version's own
  // adapter is not touched, so a rollback goes on exactly as before.
  onQuiesced(() => {
    const now = Date.now()
    const namespaces: Carried['namespaces'] = {}
    for (const [name, nsp] of io._nsps) {
      const adapter = nsp.adapter
      if (!sessionAware(adapter)) continue
      const sessions = new Map(adapter.sessions)
      for (const socket of nsp.sockets.values()) {
        if (typeof socket.pid !== 'string') continue
        sessions.set(socket.pid, { sid: socket.id, pid: socket.pid, rooms: [...socket.rooms], data: socket.data, disconnectedAt: now })
      }
      namespaces[name] = { sessions: [...sessions.values()], packets: adapter.packets }
    }
    carried.namespaces = namespaces
  })
  // Rolled back (or a checkpoint taken): the live adapter is the truth again.
  onResume(() => { carried.namespaces = {} })

  // A long-poll (engine.io polling GET) stays open until there is something to
  // send: it must not hold up quiescence. At commit it is answered with an
  // engine.io "close" packet, so the client reconnects at once.
  const markPolls = (engine: EngineLike): void => {
    if (typeof engine.use !== 'function') {
      process.emitWarning('dsu: carrySocketIo: this engine.io has no use() (6.5+ has): long-polling requests will hold up quiescence')
      return
    }
    engine.use((req, res, next) => {
      if (req.method === 'GET' && req._query?.sid) longLived(res, answerClose)
      next()
    })
  }
  if (io.engine) markPolls(io.engine)
  else if (typeof io.bind === 'function') {
    const bind = io.bind.bind(io)
    io.bind = (engine: EngineLike) => {
      const result = bind(engine)
      markPolls(engine)
      return result
    }
  }
}

/** Ends a pending engine.io long-poll with a "close" packet (protocol 4: "1"). */
function answerClose(res: http.ServerResponse): void {
  if (res.headersSent) {
    res.end()
    return
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8', 'content-length': '1' })
  res.end('1')
}
