// The connections of one listening server, as an upgrade participant. During
// quiescence the server stops accepting (new connections are accepted by the
// kernel and parked here unread), and each open connection is frozen between
// requests by stopping reads on its handle, so no byte is read that the old
// version would not answer. At commit the frozen and parked connections move
// to the new version; on rollback everything resumes where it stopped.
//
// A frozen connection's idle timer (Node's keepAliveTimeout, server.timeout,
// or the program's own socket.setTimeout) is stopped with it: a pause longer
// than the keep-alive timeout would otherwise close every idle connection
// (guarantee 4). Rollback restores each timer with its full period; a
// connection adopted by the new version starts that version's keep-alive
// timer afresh.
//
// A WebSocket (the `ws` package) moves when the program opted in with
// adoptWebSockets() and it keeps no compression context (websockets.ts): it is frozen
// at a frame boundary and rebuilt in the new version on the same socket.
// Otherwise it cannot move: frames the old version reads after its state is
// captured could only be dropped or applied to state that is already gone, so
// it is closed at the start of quiescence instead, with a real close frame,
// 1012 (Service Restart): the old version keeps reading and processing the
// client's frames until the client's own close frame, and quiescence waits
// for every such closing handshake. Other upgraded
// connections are frozen and ended at commit. A snapshot's quiescence (a
// checkpoint) only freezes WebSockets: the program resumes right after.
//
// TLS connections and HTTP/2 sessions cannot move: at an upgrade's quiescence
// they are ended cleanly instead (close_notify then FIN, GOAWAY; secure.ts).
// A TLS server's connections are tracked as their TLSSockets, from the end of
// the handshake; until then they are only waited for.
import net from 'node:net'
import http from 'node:http'
import { beginWork, endWork, type Participant, type QuiescePurpose } from './quiescence.js'
import { adoptStream, endLongLived, handOverOf, isLongLived, type LongLivedStream } from './long-lived.js'
import { adopterFor, adoptOn, atFrameBoundary, closeFrame, deflateParams, movable, webSocketOf, type WebSocketLike } from './websockets.js'
import type { LongLivedHandOver, WebSocketHandOver } from '../protocol.js'
import { Http2Sessions, isHttp2, isTls, TlsEnding } from './secure.js'

type OnConnection = (this: unknown, err: number, clientHandle: unknown) => void
interface StreamHandle { readStart(): number; readStop(): number; close(cb?: () => void): void; onconnection?: OnConnection }
type Internal = net.Server & { _handle: StreamHandle | null; _connections: number }
type InternalSocket = net.Socket & { _handle: StreamHandle | null; parser?: unknown; _httpMessage?: unknown; _server?: net.Server; server?: net.Server }
type HttpLike = net.Server & { keepAliveTimeout?: number; timeout?: number }
const WS_CLOSED = 3
/** 1012: the server is restarting; the client may reconnect (RFC 6455 registry). */
const SERVICE_RESTART = 1012

/** A connection moving at commit (takeConnections()). */
export interface MovingConnection {
  handle: unknown
  /** Set when its handle went ahead during the pause (takeAhead()): not sent again. */
  ahead?: number
  release(): void
  ws?: WebSocketHandOver
  stream?: LongLivedHandOver
}

export class ServerConnections implements Participant {
  readonly server: Internal
  readonly key: string
  private readonly open = new Set<InternalSocket>()
  /** Frozen connections, each with the idle timeout it had (0: none). */
  private readonly frozen = new Map<InternalSocket, number>()
  /** Adopted connections still on their first keep-alive wait (see adopt()). */
  private readonly adoptedIdle = new WeakSet<net.Socket>()
  private parkedHandles: unknown[] = []
  private readonly upgraded = new Set<InternalSocket>()
  /** WebSockets sent a close frame by this quiescence, until their handshake completes. */
  private readonly closing = new Set<WebSocketLike>()
  private closeWebSocketsNow = false
  /** WebSockets frozen at a frame boundary to move at commit, with what moves along. */
  private readonly handOver = new Map<InternalSocket, WebSocketHandOver>()
  /** Responses the old version moved here, continued by the program. */
  private readonly adoptedStreams = new Map<InternalSocket, LongLivedStream>()
  /** Long-lived responses written out at commit, to move on their sockets with their data. */
  private readonly streams = new Map<InternalSocket, LongLivedHandOver>()
  /**
   * Frozen connections whose handle was sent ahead to the new version during
   * the pause, by id: at commit only what to adopt them as goes along.
   */
  private readonly sentAhead = new Map<InternalSocket, number>()
  /** WebSockets the last settle() found in the middle of a frame. */
  private midFrame = 0
  /** Responses not yet closed; each counts as in flight until it closes or is found long-lived. */
  private readonly responses = new Set<http.ServerResponse>()
  /** Long-lived responses among them, no longer counted (settle()). */
  private readonly released = new Set<http.ServerResponse>()
  private acceptHandler: OnConnection | undefined
  private readonly connectionsSymbol: symbol | undefined
  /** TLS: raw connections still in their handshake; the ending of idle ones at an upgrade. */
  private readonly tls: TlsEnding | null
  private readonly handshaking = new Set<net.Socket>()
  private readonly http2: Http2Sessions | null

  constructor(server: net.Server, key: string) {
    this.server = server as Internal
    this.key = key
    this.connectionsSymbol = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections')
    this.tls = isTls(server) ? new TlsEnding() : null
    this.http2 = isHttp2(server) ? new Http2Sessions(server) : null
    if (this.tls) {
      const tls = this.tls
      server.on('connection', (raw: net.Socket) => {
        this.handshaking.add(raw)
        raw.once('close', () => this.handshaking.delete(raw))
      })
      server.on('secureConnection', (socket: InternalSocket & { _parent?: net.Socket }) => {
        if (socket._parent) this.handshaking.delete(socket._parent)
        tls.touch(socket)
        this.track(socket)
      })
      server.on('tlsClientError', (_error: unknown, socket: { _parent?: net.Socket }) => {
        if (socket?._parent) this.handshaking.delete(socket._parent)
      })
    } else {
      server.on('connection', (socket: InternalSocket) => this.track(socket))
    }
    if (isHttp(server)) {
      // prepend: the request counts as in flight before the app sees it.
      // This runs for every request the program serves: no closure, Map
      // entry or once() wrapper per request, one shared 'close' listener.
      const connections = this
      const closed = function (this: http.ServerResponse): void {
        connections.responseClosed(this)
      }
      server.prependListener('request', (req, res) => {
        this.firstRequest(req.socket)
        beginWork()
        this.responses.add(res)
        res.on('close', closed)
        // Quiescing for an upgrade: this TLS connection closes after this response.
        if (this.tls) {
          if (this.closeWebSocketsNow) res.shouldKeepAlive = false
          const tls = this.tls
          res.once('close', () => tls.touch(req.socket))
        }
      })
      // An upgraded connection (WebSocket) is no longer HTTP: it cannot be
      // handed to the new version's HTTP parser. It is closed at commit.
      server.on('upgrade', (_req: unknown, socket: InternalSocket) => {
        this.firstRequest(socket)
        this.upgraded.add(socket)
      })
    }
  }

  private track(socket: InternalSocket): void {
    this.open.add(socket)
    socket.once('close', () => {
      this.open.delete(socket)
      this.frozen.delete(socket)
      this.upgraded.delete(socket)
      this.handOver.delete(socket)
      this.streams.delete(socket)
      this.adoptedStreams.delete(socket)
      this.sentAhead.delete(socket)
    })
  }

  stop(purpose: QuiescePurpose): void {
    // A snapshot resumes at once: its WebSockets are only frozen, like idle connections.
    this.closeWebSocketsNow = purpose === 'upgrade'
    if (purpose === 'upgrade') {
      // TLS: responses not begun yet close their connection (Connection: close).
      if (this.tls) for (const res of this.responses.keys()) if (!res.headersSent) res.shouldKeepAlive = false
      this.http2?.drain()
    }
    const handle = this.server._handle
    if (!handle || this.acceptHandler) return
    this.acceptHandler = handle.onconnection
    handle.onconnection = (err, clientHandle) => {
      if (err === 0 && clientHandle) this.parkedHandles.push(clientHandle)
    }
  }

  settle(): boolean {
    // A long-lived response (SSE…) stops counting as in flight: it is frozen
    // with its connection below, and ended at commit (endLongLived()).
    for (const res of this.responses) {
      if (this.released.has(res) || !isLongLived(res)) continue
      this.released.add(res)
      endWork()
    }
    const ending = this.closeWebSocketsNow && (this.tls !== null || this.http2 !== null)
    // A handshake under way ends in a connection like any other (ended below, or frozen).
    if (ending && this.handshaking.size > 0) return false
    // HTTP/2: its sessions own the connections; they went away at stop().
    if (this.http2) return this.closeWebSocketsNow ? this.http2.settle() : true
    const idle = this.idleParsers()
    const adopter = this.closeWebSocketsNow ? adopterFor(this.server) : null
    let all = true
    this.midFrame = 0
    for (const socket of this.open) {
      if (this.frozen.has(socket)) continue
      const ws = this.closeWebSocketsNow && this.upgraded.has(socket) ? webSocketOf(socket) : null
      if (ws && adopter && movable(ws) && !this.tls && !this.closing.has(ws)) {
        // Keep reading until ws holds no partial frame, then stop reads there.
        if (!atFrameBoundary(ws)) {
          this.midFrame++
          all = false
          continue
        }
        let data: unknown = null
        try {
          data = adopter.options.data?.(ws) ?? null
          JSON.stringify(data) // it travels as JSON: fail here, where a close is still possible
        } catch (cause) {
          process.emitWarning(`dsu: adoptWebSockets data() failed (${(cause as Error)?.message ?? String(cause)}); closing that WebSocket with 1012 instead`)
          data = undefined
        }
        if (data !== undefined) {
          socket._handle?.readStop()
          this.frozen.set(socket, 0)
          const deflate = deflateParams(ws)
          this.handOver.set(socket, { protocol: ws.protocol, data, ...(deflate ? { deflate } : {}) })
          continue
        }
      }
      if (ws) {
        // Not frozen: its frames are read and processed until the client's close frame.
        if (ws.readyState !== WS_CLOSED && !this.closing.has(ws)) {
          this.closing.add(ws)
          ws.close(SERVICE_RESTART, 'Service Restart')
        }
        continue
      }
      if (!this.isIdle(socket, idle)) {
        all = false
        continue
      }
      if (ending && this.tls && !this.upgraded.has(socket)) {
        // Idle between requests: close_notify then FIN, once idle long enough.
        if (!this.tls.endIdle(socket)) all = false
        continue
      }
      // Leave `_handle.reading` as it is so net.Socket does not restart reads.
      socket._handle?.readStop()
      // `timeout` is what the last setTimeout() set: Node's keep-alive wait
      // after a response, server.timeout, or the program's own.
      const timeout = socket.timeout ?? 0
      if (timeout > 0) socket.setTimeout(0)
      this.frozen.set(socket, timeout)
    }
    // Closed only once ws has emitted every message and 'close' (an inflating
    // message may still be on its way after the socket closed).
    for (const ws of this.closing) {
      if (ws.readyState === WS_CLOSED) this.closing.delete(ws)
      else all = false
    }
    return all
  }

  busy(): string | null {
    const parts: string[] = []
    const n = this.closing.size
    if (n > 0) parts.push(`${n} WebSocket${n === 1 ? '' : 's'} sent a 1012 close frame whose client did not answer`)
    const m = this.midFrame
    if (m > 0) parts.push(`${m} WebSocket${m === 1 ? '' : 's'} still in the middle of a frame`)
    const h = this.handshaking.size
    if (this.closeWebSocketsNow && h > 0) parts.push(`${h} TLS handshake${h === 1 ? '' : 's'} under way`)
    const e = this.tls?.ending() ?? 0
    if (e > 0) parts.push(`${e} TLS connection${e === 1 ? '' : 's'} sent close_notify whose client did not close`)
    const s = this.http2?.busy()
    if (s) parts.push(s)
    return parts.length > 0 ? parts.join(', ') : null
  }

  /** Graceful stop: a real close frame, 1001 (Going Away), to every WebSocket. */
  closeWebSockets(): void {
    this.http2?.closeAll()
    for (const socket of this.upgraded) {
      const ws = webSocketOf(socket)
      if (ws && ws.readyState !== WS_CLOSED) ws.close(1001, 'Going Away')
    }
  }

  resume(): void {
    for (const [socket, timeout] of this.frozen) {
      socket._handle?.readStart()
      if (timeout > 0 && !socket.destroyed) socket.setTimeout(timeout)
    }
    this.frozen.clear()
    // A WebSocket already closing finishes its handshake; its client reconnects.
    this.closing.clear()
    this.handOver.clear()
    this.sentAhead.clear() // the new version that holds copies of them is gone
    this.closeWebSocketsNow = false
    this.http2?.resume()
    const handle = this.server._handle
    if (handle && this.acceptHandler) {
      handle.onconnection = this.acceptHandler
      const parked = this.parkedHandles
      this.parkedHandles = []
      for (const client of parked) this.acceptHandler.call(handle, 0, client)
    }
    this.acceptHandler = undefined
  }

  /** Closes the listening handle (the kernel socket lives on in the supervisor). */
  closeListener(): void {
    const handle = this.server._handle
    if (!handle) return
    handle.close()
    this.server._handle = null
  }

  /**
   * Commit: a long-lived response marked with data moves (`handOver`; not
   * on stop): once what was written to it has left this process, its socket
   * goes with its data. Every other one is ended cleanly (an EventSource
   * reconnects to the new version). Resolves once each is written out, so
   * its connection moves idle, between requests. One not written out within
   * `timeoutMs` (a client that stopped reading) is destroyed instead: moved
   * with a half-written response it would be corrupt.
   */
  async endLongLived(timeoutMs: number, handOver = true): Promise<void> {
    const ending: Array<Promise<void>> = []
    for (const res of this.responses) {
      if (!isLongLived(res) || res.writableEnded) continue
      const moving = handOver ? handOverOf(res) : null
      const socket = res.socket as InternalSocket | null
      if (moving && socket) {
        ending.push(this.moveAtCommit(socket, moving, timeoutMs))
        continue
      }
      ending.push(endWithin(timeoutMs, () => res.socket?.destroy(), (done) => res.once('close', done), () => {
        try {
          endLongLived(res)
        } catch {
          res.socket?.destroy() // the program's own end() threw: no clean end is possible
        }
      }))
    }
    // Streams this version adopted: they move again when the program marked
    // them (longLived(stream, { data })), or end cleanly (the client reconnects).
    for (const [socket, stream] of this.adoptedStreams) {
      if (stream.writableEnded || stream.destroyed) continue
      const moving = handOver ? handOverOf(stream) : null
      if (moving) {
        ending.push(this.moveAtCommit(socket, moving, timeoutMs))
        continue
      }
      ending.push(endWithin(timeoutMs, () => socket.destroy(), (done) => {
        socket.once('close', done)
        socket.once('finish', done)
      }, () => stream.end()))
    }
    await Promise.all(ending)
  }

  /** A long-lived response to move at commit, once what it wrote has left this process; destroyed if that takes over `timeoutMs`. */
  private async moveAtCommit(socket: InternalSocket, moving: LongLivedHandOver, timeoutMs: number): Promise<void> {
    if (await written(socket, timeoutMs)) this.streams.set(socket, moving)
    else socket.destroy()
  }

  /**
   * Commit: waits until what the program wrote to a WebSocket during the
   * pause (a heartbeat, a broadcast) has left this process, so no frame stays
   * behind in its buffer when the socket moves; at most `timeoutMs`.
   */
  async flushWebSockets(timeoutMs: number): Promise<void> {
    await Promise.all([...this.handOver.keys()].map((socket) => written(socket, timeoutMs)))
  }

  /**
   * Quiesced for an upgrade: the handles of the frozen connections that can
   * move (idle keep-alive connections, WebSockets and long-lived responses
   * that may move at commit), to send ahead to the new version while the
   * state is transferred. Sending a handle duplicates it: this version keeps
   * its own copy, frozen, and resumes on it after a rollback; at commit
   * takeConnections() says which of them the new version adopts, and how.
   * `id` numbers them for that.
   */
  takeAhead(id: () => number): Array<{ id: number; socket: net.Socket & { _handle: unknown } }> {
    const ahead: Array<{ id: number; socket: InternalSocket }> = []
    // TLS and HTTP/2 connections cannot move; upgraded connections other
    // than moving WebSockets are ended at commit.
    if (this.tls || this.http2) return ahead
    for (const socket of this.frozen.keys()) {
      if (!socket._handle || !socket.writable || this.sentAhead.has(socket)) continue
      if (this.upgraded.has(socket) && !this.handOver.has(socket)) continue
      const n = id()
      this.sentAhead.set(socket, n)
      ahead.push({ id: n, socket })
    }
    return ahead
  }

  /**
   * Every connection to move to the new version: its raw handle, or for one
   * sent ahead (takeAhead()) its id, the new version holding its handle
   * already. `release` closes this process's copy once it moved.
   */
  takeConnections(): MovingConnection[] {
    const moved: MovingConnection[] = []
    for (const socket of this.open) {
      const ahead = this.sentAhead.get(socket)
      const sent = ahead === undefined ? {} : { ahead }
      const ws = this.handOver.get(socket)
      if (ws && socket._handle) {
        moved.push({ handle: socket._handle, release: () => socket.destroy(), ws, ...sent })
        continue
      }
      const stream = this.streams.get(socket)
      if (stream && socket._handle) {
        moved.push({ handle: socket._handle, release: () => socket.destroy(), stream, ...sent })
        continue
      }
      if (this.upgraded.has(socket) || this.tls || this.http2) {
        // Not a WebSocket dsu knows (those closed at quiesce), or a TLS
        // connection or HTTP/2 session left open (ended at quiesce): it
        // cannot move; a clean end is the best it can do.
        socket.end()
        continue
      }
      const handle = socket._handle
      // A connection already closing (a response with Connection: close) finishes here.
      if (!handle || !socket.writable) continue
      // destroy() closes only this process's copy once the handle was sent.
      moved.push({ handle, release: () => socket.destroy(), ...sent })
    }
    for (const handle of this.parkedHandles) {
      moved.push({ handle, release: () => (handle as StreamHandle).close() })
    }
    this.parkedHandles = []
    return moved
  }

  /** Adopts a connection moved here from the old version. */
  adopt(handle: unknown, ws?: WebSocketHandOver, stream?: LongLivedHandOver): void {
    const options = { handle, readable: true, writable: true } as unknown as net.SocketConstructorOpts
    const socket = new net.Socket(options) as InternalSocket
    socket.server = this.server
    socket._server = this.server
    this.server._connections++
    if (ws) return this.adoptWebSocket(socket, ws)
    if (stream) {
      // The rest of a response: no HTTP parser, straight to the program.
      this.track(socket)
      this.adoptedStreams.set(socket, adoptStream(socket, stream))
      return
    }
    this.server.emit('connection', socket)
    // TLS: a connection moved before its handshake; Node's own timers apply.
    if (this.tls || this.http2) return
    // Node treats this as a new connection, which waits up to headersTimeout
    // (a minute) for a first request. It is an idle keep-alive connection:
    // give it this version's keep-alive wait, cleared at its next request as
    // Node clears its own (firstRequest()).
    const keepAlive = isHttp(this.server) ? (this.server as HttpLike).keepAliveTimeout ?? 0 : 0
    if (keepAlive > 0 && !socket.destroyed) {
      socket.setTimeout(keepAlive)
      this.adoptedIdle.add(socket)
    }
  }

  /** A WebSocket moved here: no HTTP parser, straight to the program's WebSocketServer. */
  private adoptWebSocket(socket: InternalSocket, handOver: WebSocketHandOver): void {
    this.track(socket)
    this.upgraded.add(socket)
    const adopter = adopterFor(this.server)
    if (!adopter) {
      // The old version opted in, this one did not: a close frame is all it can do.
      process.emitWarning('dsu: a WebSocket moved to this version, which does not call adoptWebSockets(); closed with 1012')
      socket.end(closeFrame(SERVICE_RESTART, 'Service Restart'))
      return
    }
    try {
      adoptOn(adopter, socket, handOver)
    } catch (cause) {
      process.emitWarning(`dsu: adopting a WebSocket failed: ${(cause as Error)?.message ?? String(cause)}`)
      const ws = webSocketOf(socket)
      if (ws) ws.close(1011, 'Internal Error')
      else socket.end(closeFrame(1011, 'Internal Error'))
    }
  }

  private responseClosed(res: http.ServerResponse): void {
    if (!this.responses.delete(res)) return
    if (!this.released.delete(res)) endWork()
  }

  /** A request arrived on an adopted connection: back to the server's own timeout, as Node does. */
  private firstRequest(socket: net.Socket): void {
    if (!this.adoptedIdle.delete(socket)) return
    socket.setTimeout((this.server as HttpLike).timeout ?? 0)
  }

  private isIdle(socket: InternalSocket, idleParsers: Set<unknown> | null): boolean {
    if (!isHttp(this.server) || this.upgraded.has(socket)) return true
    if (socket._httpMessage) return isLongLived(socket._httpMessage as http.ServerResponse)
    // Without Node's connection list, a connection with no response pending is
    // taken as idle; with it, one whose parser has begun a message is not.
    if (!idleParsers || !socket.parser) return true
    return idleParsers.has(socket.parser)
  }

  private idleParsers(): Set<unknown> | null {
    if (!this.connectionsSymbol) return null
    const list = (this.server as unknown as Record<symbol, { idle(): unknown[] } | undefined>)[this.connectionsSymbol]
    return list ? new Set(list.idle()) : null
  }
}

/**
 * Runs `end`, then resolves once `finished` reports the end, or after
 * `timeoutMs`, when `destroy` cuts what a stalled client left unread.
 */
function endWithin(timeoutMs: number, destroy: () => void, finished: (done: () => void) => void, end: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      destroy()
      resolve()
    }, timeoutMs)
    finished(() => {
      clearTimeout(timer)
      resolve()
    })
    end()
  })
}

/**
 * Resolves true once everything written to `socket` so far has left this
 * process (an empty write's callback runs after every earlier write), false
 * if it closes first or `timeoutMs` passes (a client that stopped reading).
 */
function written(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(false)
  if (socket.writableLength === 0) return Promise.resolve(true)
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer)
      socket.off('close', onClose)
      resolve(ok)
    }
    const onClose = (): void => finish(false)
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.once('close', onClose)
    socket.write(Buffer.alloc(0), (error) => finish(!error && !socket.destroyed))
  })
}

// https.Server is a tls.Server that also takes HTTP options; recognised by
// shape so the runtime does not load node:https (and TLS) into every program.
function isHttp(server: net.Server): boolean {
  if (server instanceof http.Server) return true
  const s = server as unknown as { setSecureContext?: unknown; keepAliveTimeout?: unknown }
  return typeof s.setSecureContext === 'function' && typeof s.keepAliveTimeout === 'number'
}
