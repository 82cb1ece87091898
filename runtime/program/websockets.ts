// WebSocket hand-over (the `ws` package), for a program that opts in with
// adoptWebSockets(wss, { data, adopt }) — called the same way in every
// version. At an upgrade's quiescence each WebSocket is frozen at a frame
// boundary: its receiver holds no partial frame or fragment and nothing it
// wrote is still buffered, so every byte it read was processed and every byte
// the client sends next is still in the kernel. At commit the socket moves
// with `data(ws)` (JSON over the IPC channel) and the new version builds a ws
// WebSocket on it with its WebSocketServer's own class and options, and calls
// `adopt(ws, data)`: the client sees no close, and the frames it sent during
// the pause reach the new version once, in order. permessage-deflate keeps a
// compression context in memory that cannot move, so a server that opts in
// negotiates no_context_takeover in both directions for every connection it
// accepts afterwards: at a message boundary neither side then holds any
// context, and the new version rebuilds the extension from the negotiated
// parameters. A connection that still uses context takeover (accepted
// before the opt-in) is closed with 1012, as for a program that does not
// opt in.
import { createRequire } from 'node:module'
import path from 'node:path'
import type net from 'node:net'
import type { WebSocketHandOver } from '../protocol.js'

/** The part of a `ws` WebSocket this uses. */
export interface WebSocketLike {
  readyState: number
  extensions: string
  protocol: string
  bufferedAmount: number
  close(code?: number, reason?: string): void
  on(event: 'close', listener: () => void): unknown
}

/** The part of a `ws` WebSocketServer this uses. */
export interface WebSocketServerLike {
  options: {
    WebSocket: new (address: null, protocols: undefined, options: object) => WebSocketLike
    allowSynchronousEvents?: boolean
    maxPayload?: number
    skipUTF8Validation?: boolean
    perMessageDeflate?: boolean | Record<string, unknown>
  } & Record<string, unknown>
  clients?: Set<WebSocketLike>
  _server?: net.Server | null
}

export interface AdoptOptions<T> {
  /** What the new version needs to know about a connection (user, rooms); JSON. */
  data?: (ws: WebSocketLike) => T
  /** Called in the new version for each WebSocket it takes over, before any of its frames. */
  adopt: (ws: WebSocketLike, data: T) => void
  /** The HTTP server the WebSockets arrive on, when the WebSocketServer has none (noServer). */
  server?: net.Server
}

interface Adopter { wss: WebSocketServerLike; options: AdoptOptions<unknown> }
const adopters: Adopter[] = []

/**
 * Opts the WebSockets of `wss` in to live hand-over (see the README,
 * "WebSockets"). Call it in every version, with the same shape of data.
 */
export function adoptWebSockets<T>(wss: WebSocketServerLike, options: AdoptOptions<T>): void {
  adopters.push({ wss, options: options as AdoptOptions<unknown> })
  // ws builds each connection's extension from these options (spread per
  // upgrade), so connections accepted from now on keep no compression
  // context between messages, and can move.
  const deflate = wss.options?.perMessageDeflate
  if (deflate) {
    wss.options.perMessageDeflate = { ...(deflate === true ? {} : deflate), serverNoContextTakeover: true, clientNoContextTakeover: true }
  }
}

/** The adopter for WebSockets arriving on `server`, if the program opted in. */
export function adopterFor(server: net.Server): Adopter | null {
  const match = adopters.find((a) => (a.options.server ?? a.wss._server) === server)
  if (match) return match
  const unbound = adopters.filter((a) => !a.options.server && !a.wss._server)
  return unbound.length === 1 ? unbound[0]! : null
}

/** The `ws` WebSocket that owns an upgraded socket (ws tags it with Symbol('websocket')), or null. */
export function webSocketOf(socket: net.Socket): WebSocketLike | null {
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description !== 'websocket') continue
    const ws = (socket as unknown as Record<symbol, unknown>)[symbol] as WebSocketLike | undefined
    if (ws && typeof ws.close === 'function' && typeof ws.readyState === 'number') return ws
  }
  return null
}

const WS_OPEN = 1
const DEFLATE = 'permessage-deflate'

interface DeflateLike { params?: Record<string, unknown> | null }

/**
 * The negotiated permessage-deflate parameters of a WebSocket that keeps no
 * compression context between messages (no_context_takeover both ways);
 * null when it is not compressed; undefined when its context cannot move.
 */
export function deflateParams(ws: WebSocketLike): Record<string, unknown> | null | undefined {
  if (ws.extensions === '') return null
  const extensions = (ws as unknown as { _extensions?: Record<string, DeflateLike> })._extensions
  if (ws.extensions !== DEFLATE || !extensions) return undefined
  const params = extensions[DEFLATE]?.params
  if (!params || params.server_no_context_takeover !== true || params.client_no_context_takeover !== true) return undefined
  return perMessageDeflateClass(ws) ? { ...params } : undefined
}

/** Whether this WebSocket can move at all (open, no compression context). */
export function movable(ws: WebSocketLike): boolean {
  return ws.readyState === WS_OPEN && deflateParams(ws) !== undefined
}

type PerMessageDeflateClass = new (options: object, isServer?: boolean, maxPayload?: number) => DeflateLike

/**
 * ws's PerMessageDeflate, from the same copy of ws as the WebSocket class
 * (ws does not export it; its module sits beside websocket.js in Node's
 * module cache), or null.
 */
function perMessageDeflateClass(ws: object): PerMessageDeflateClass | null {
  const WebSocketClass = (typeof ws === 'function' ? ws : ws.constructor) as { prototype?: object }
  const cache = createRequire(import.meta.url).cache
  for (const [file, module] of Object.entries(cache)) {
    const exported = module?.exports as unknown
    if (typeof exported !== 'function' || path.basename(file) !== 'websocket.js') continue
    // The class itself, or a subclass the program gave its WebSocketServer.
    if (exported !== WebSocketClass && !(WebSocketClass.prototype instanceof exported)) continue
    const sibling = cache[path.join(path.dirname(file), 'permessage-deflate.js')]?.exports
    return typeof sibling === 'function' ? sibling as PerMessageDeflateClass : null
  }
  return null
}

/**
 * True when every byte read was processed into events and nothing written
 * waits in a buffer: ws's receiver sits at the start of a frame with no
 * fragments of a message (internal fields of ws 8, checked defensively: an
 * unknown shape is never taken as a boundary).
 */
export function atFrameBoundary(ws: WebSocketLike): boolean {
  const receiver = (ws as unknown as { _receiver?: { _state?: unknown; _bufferedBytes?: unknown; _fragments?: unknown; _loop?: unknown } })._receiver
  if (!receiver) return false
  return receiver._state === 0 && receiver._bufferedBytes === 0 && Array.isArray(receiver._fragments) &&
    receiver._fragments.length === 0 && receiver._loop === false && ws.bufferedAmount === 0
}

/** Builds a ws WebSocket on a moved socket in the new version and hands it to the program. */
export function adoptOn(adopter: Adopter, socket: net.Socket, handOver: WebSocketHandOver): void {
  const { wss, options } = adopter
  const ws = new wss.options.WebSocket(null, undefined, wss.options)
  ;(ws as unknown as { _protocol: string })._protocol = handOver.protocol
  if (handOver.deflate) {
    // The extension as ws's server builds it after a handshake, with the
    // parameters the client agreed to (no context to carry: see above).
    const PerMessageDeflate = perMessageDeflateClass(wss.options.WebSocket)
    if (!PerMessageDeflate) throw new Error('permessage-deflate is not found beside this version\'s ws WebSocket')
    const options = { ...(typeof wss.options.perMessageDeflate === 'object' ? wss.options.perMessageDeflate : {}), isServer: true, maxPayload: wss.options.maxPayload }
    const extension = new PerMessageDeflate(options, true, wss.options.maxPayload)
    extension.params = handOver.deflate
    ;(ws as unknown as { _extensions: Record<string, DeflateLike> })._extensions = { [DEFLATE]: extension }
  }
  // As ws's WebSocketServer does after a handshake; no bytes were read ahead.
  ;(ws as unknown as { setSocket(s: net.Socket, head: Buffer, o: object): void }).setSocket(socket, Buffer.alloc(0), {
    allowSynchronousEvents: wss.options.allowSynchronousEvents,
    maxBufferedChunks: wss.options.maxBufferedChunks,
    maxFragments: wss.options.maxFragments,
    maxPayload: wss.options.maxPayload,
    skipUTF8Validation: wss.options.skipUTF8Validation,
  })
  if (wss.clients) {
    wss.clients.add(ws)
    ws.on('close', () => wss.clients?.delete(ws))
  }
  options.adopt(ws, handOver.data)
}

/** A close frame (server to client: unmasked) for a moved WebSocket nobody adopts. */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason)
  return Buffer.concat([Buffer.from([0x88, 2 + text.length, code >> 8, code & 0xff]), text])
}
