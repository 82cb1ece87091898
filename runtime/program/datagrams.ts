// UDP (node:dgram) sockets, handed over like listening sockets (listeners.ts).
// Each explicit bind() gets a key from its arguments ("udp4:127.0.0.1:8125#1").
// The first version binds for real and sends a copy of the bound handle to the
// supervisor, which holds it; a successor's bind() on the same key is deferred
// until commit and then takes the inherited handle, so the kernel socket (and
// its receive buffer) never closes and the port is never free for another
// process (no EADDRINUSE, no lost datagram to a closed port).
//
// At quiesce the old version stops receiving (recvStop on the handle): no
// datagram is counted after its state is captured. Datagrams that arrive
// during the pause wait in the kernel's receive buffer, shared by every copy of
// the socket; the new version reads them once it binds at commit, the old one
// on rollback when it resumes receiving. A datagram is lost only when the
// buffer overflows during the pause (see README, "UDP").
import dgram from 'node:dgram'
import { send } from './channel.js'
import { addParticipant, type Participant } from './quiescence.js'

type Bind = (this: dgram.Socket, ...args: unknown[]) => dgram.Socket
const realBind = dgram.Socket.prototype.bind as unknown as Bind

interface UdpHandle { recvStart(): number; recvStop(): number; close(): void }
interface DgramState { handle: UdpHandle | null; receiving: boolean; bindState: number }

// dgram keeps a socket's handle under a private symbol; found once, on a probe.
const probe = dgram.createSocket('udp4')
const stateSymbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'state symbol')
probe.close()
function stateOf(socket: dgram.Socket): DgramState | null {
  return stateSymbol ? (socket as unknown as Record<symbol, DgramState | undefined>)[stateSymbol] ?? null : null
}

/** 'udp4' or 'udp6' (a public field @types/node does not declare). */
function typeOf(socket: dgram.Socket): string {
  return (socket as unknown as { type?: string }).type ?? 'udp4'
}

/** The key of a bind() call, or null when dsu leaves it alone (an fd, send()'s implicit bind). */
export function bindKey(type: string, args: unknown[]): string | null {
  const [first, second] = args
  let port: unknown = first
  let address: unknown = typeof second === 'string' ? second : undefined
  if (typeof first === 'object' && first !== null) {
    const o = first as Record<string, unknown>
    if ('fd' in o || typeof o.recvStart === 'function') return null
    // send() on an unbound socket binds it to a random port: a client, not a server.
    if (o.exclusive === true && (o.port === 0 || o.port === undefined) && second === null) return null
    ;({ port, address } = o)
  }
  const p = typeof port === 'function' || port === undefined || port === null ? 0 : Number(port)
  return `${type}:${typeof address === 'string' ? address : '*'}:${p}`
}

/** One bound UDP socket as an upgrade participant: stops receiving while paused. */
class DatagramSocket implements Participant {
  private stopped = false
  constructor(private readonly socket: dgram.Socket) {}

  stop(): void {
    const state = stateOf(this.socket)
    if (!state?.handle || !state.receiving || this.stopped) return
    // Datagrams libuv already read were emitted before this returns; the
    // rest stay in the kernel buffer for whichever version reads next.
    state.handle.recvStop()
    this.stopped = true
  }

  settle(): boolean {
    return true
  }

  resume(): void {
    if (!this.stopped) return
    this.stopped = false
    const state = stateOf(this.socket)
    if (state?.handle && state.receiving) state.handle.recvStart()
  }
}

const keyCounts = new Map<string, number>()
interface Deferred { socket: dgram.Socket; key: string; args: unknown[] }
const deferred: Deferred[] = []
const deferredSockets = new WeakSet<dgram.Socket>()

function bindNow(socket: dgram.Socket, key: string, args: unknown[]): dgram.Socket {
  addParticipant(new DatagramSocket(socket))
  socket.once('listening', () => {
    const handle = stateOf(socket)?.handle
    const address = socket.address()
    void send({ dsu: 'listener', key, address: `${typeOf(socket)} ${address.address}:${address.port}` }, handle)
  })
  return realBind.apply(socket, args)
}

/** Installs the bind() interception; `active` false defers binds until activateDatagrams(). */
export function interceptBind(active: () => boolean, onClaim: (key: string) => void): void {
  dgram.Socket.prototype.bind = function interceptedBind(this: dgram.Socket, ...args: unknown[]): dgram.Socket {
    const base = bindKey(typeOf(this), args)
    if (base === null) {
      // A send() before commit on a socket whose bind waits: its datagrams
      // are queued until the deferred bind emits 'listening'.
      if (deferredSockets.has(this)) return this
      return realBind.apply(this, args)
    }
    const n = (keyCounts.get(base) ?? 0) + 1
    keyCounts.set(base, n)
    const key = `${base}#${n}`
    if (active()) return bindNow(this, key, args)
    deferred.push({ socket: this, key, args })
    deferredSockets.add(this)
    onClaim(key)
    return this
  } as unknown as typeof dgram.Socket.prototype.bind
}

/** Commit: binds every deferred bind(), to its inherited handle when there is one (taken from `inherited`). */
export function activateDatagrams(inherited: Map<string, unknown>): string[] {
  const bound: string[] = []
  for (const { socket, key, args } of deferred.splice(0)) {
    deferredSockets.delete(socket)
    const handle = inherited.get(key) as UdpHandle | undefined
    if (handle === undefined || typeof handle.recvStart !== 'function') {
      bindNow(socket, key, args)
      continue
    }
    inherited.delete(key)
    addParticipant(new DatagramSocket(socket))
    bound.push(key)
    const callback = args.find((a) => typeof a === 'function')
    realBind.apply(socket, callback ? [handle, callback] : [handle])
  }
  return bound
}
