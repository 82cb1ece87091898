// TLS and HTTP/2 connections at an upgrade. Neither can move to another
// process: a TLS connection's keys and sequence numbers live in this
// process's OpenSSL, an HTTP/2 session's stream and HPACK state in its
// nghttp2. So at quiesce for an upgrade they are ended cleanly instead, the
// way each protocol lets a server go away without a client seeing an error,
// and clients reconnect — to the new version after commit (their new
// connections wait unread in the listening socket's backlog meanwhile and
// move like any other), to the old one after a rollback.
//
// - HTTPS (HTTP/1.1 over TLS): a response in flight or begun during
//   quiescence carries `Connection: close`, and Node closes the connection
//   after it; a connection idle between requests is ended with close_notify
//   then FIN (tlsSocket.end()) once it has been idle for IDLE_GRACE_MS, so a
//   client that is about to reuse it right after a response is not cut off
//   mid-request (its request is answered with Connection: close instead).
// - HTTP/2 (node:http2, h2 and h2c): every session is sent GOAWAY with the
//   highest stream id (RFC 9113 §6.8's shutdown notice) at quiesce: the client
//   opens no new stream on it, and streams it sent meanwhile are still served.
//   Node's client then closes the session itself once its streams are done.
//   The server closes it (a second GOAWAY with the last stream id processed,
//   after its open streams) as soon as it has no open stream, or
//   SESSION_GRACE_MS after the first GOAWAY: nghttp2 reads nothing more on
//   an idle session that sent GOAWAY, so a stream the client opens after that
//   can only be refused (REFUSED_STREAM: not processed, safe to retry).
// A checkpoint (a snapshot) ends nothing: TLS connections are frozen like
// plain ones, and HTTP/2 streams count as in flight.
import type net from 'node:net'
import { begin } from './quiescence.js'

/**
 * How long a TLS connection is left after its handshake or last response
 * before it is ended. Ending it is safe only if the client sends no request
 * meanwhile: a request that crosses the close_notify is not processed, but
 * Node's client can only tell it may retry (req.reusedSocket) when the request
 * found the connection free in its pool — one that waited in the Agent's queue
 * for a connection (more requests than maxSockets) gets a reused connection
 * with reusedSocket false, and fails as if it had been sent on a new one.
 * With 25 ms, clients descheduled that long under CPU load (load 12 on 2
 * cores) sent such requests in 2 of 3 runs. So the grace is far longer than
 * a busy client's gap between a response and its next request; an idle
 * connection holds the quiescence (and so the pause) this long.
 */
export const IDLE_GRACE_MS = 500
/**
 * How long a session told to go away is left to its client, which closes it
 * once its streams are done (Node's does), before the server closes it: a
 * stream the client opens after that is refused, so this is longer than any
 * client needs to see the GOAWAY.
 */
const SESSION_GRACE_MS = 1000
/** How long an ended connection waits for its client's FIN before it is destroyed. */
const END_WAIT_MS = 2000
/** NGHTTP2_NO_ERROR, and the highest stream id: "no new streams, the rest are still welcome". */
const NO_ERROR = 0
const ANY_STREAM = 2 ** 31 - 1

/** A tls.Server (and so https.Server, http2.createSecureServer), recognised by shape so node:tls is not loaded. */
export function isTls(server: net.Server): boolean {
  return typeof (server as unknown as { setSecureContext?: unknown }).setSecureContext === 'function'
}

/** An http2 server (h2 or h2c): connections belong to sessions, not to an HTTP/1 parser. */
export function isHttp2(server: net.Server): boolean {
  return typeof (server as unknown as { updateSettings?: unknown }).updateSettings === 'function'
}

interface Session {
  closed: boolean
  destroyed: boolean
  goaway(code: number, lastStreamId: number): void
  close(): void
  destroy(): void
  once(event: 'close', fn: () => void): void
}

/** The HTTPS side: idle times, and the ending of idle connections during an upgrade's quiescence. */
export class TlsEnding {
  private readonly lastActive = new WeakMap<net.Socket, number>()
  private readonly endedAt = new Map<net.Socket, number>()
  /** Idle long enough: false until this process has polled for I/O since, then true. */
  private readonly candidates = new WeakMap<net.Socket, boolean>()

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A TLS connection finished its handshake or a response: idle from now. */
  touch(socket: net.Socket): void {
    this.lastActive.set(socket, this.now())
    this.candidates.delete(socket)
  }

  /**
   * An idle TLS connection during an upgrade's quiescence: ended cleanly once
   * idle long enough. Returns true once it is closed.
   */
  endIdle(socket: net.Socket): boolean {
    if (socket.destroyed) return true
    const now = this.now()
    const ended = this.endedAt.get(socket)
    if (ended !== undefined) {
      // close_notify and FIN went out; a client that never answers with its own FIN is cut off.
      if (now - ended > END_WAIT_MS) socket.destroy()
      return false
    }
    if (now - (this.lastActive.get(socket) ?? 0) < IDLE_GRACE_MS) return false
    // Idle by the clock is not enough: this process may itself have been
    // descheduled with the client's next request unread in the kernel. End it
    // only after an event-loop turn that polled for I/O (setImmediate runs
    // right after the poll phase) found nothing on it.
    const candidate = this.candidates.get(socket)
    if (candidate !== true) {
      if (candidate === undefined) {
        this.candidates.set(socket, false)
        setImmediate(() => {
          if (this.candidates.get(socket) === false) this.candidates.set(socket, true)
        })
      }
      return false
    }
    this.candidates.delete(socket)
    this.endedAt.set(socket, now)
    // A request that crosses the close_notify (the client reused the
    // connection just as it was closed) is never processed: its response could
    // not be sent, so the client sees the connection close without one (Node:
    // ECONNRESET with req.reusedSocket) and can retry it safely.
    const parser = (socket as unknown as { parser?: { onIncoming?: unknown } }).parser
    if (parser) {
      parser.onIncoming = (): number => {
        socket.destroy()
        return 1 // skip the body
      }
    }
    socket.once('close', () => this.endedAt.delete(socket))
    socket.end() // TLSSocket: close_notify, then FIN
    return false
  }

  /** How many were ended and have not closed yet. */
  ending(): number {
    return this.endedAt.size
  }
}

/** The sessions of an http2 server, as part of its ServerConnections. */
export class Http2Sessions {
  private readonly sessions = new Map<Session, number>()
  /** Open streams per session. */
  private readonly streams = new Map<Session, number>()
  private draining = false

  constructor(server: net.Server) {
    server.on('session', (session: Session) => {
      this.sessions.set(session, 0)
      session.once('close', () => {
        this.sessions.delete(session)
        this.streams.delete(session)
      })
      if (this.draining) this.goaway(session)
    })
    // A stream is work in flight until it closes (a snapshot waits for it).
    server.on('stream', (stream: { session?: Session; once(event: 'close', fn: () => void): void }) => {
      const done = begin()
      const session = stream.session
      if (session) this.streams.set(session, (this.streams.get(session) ?? 0) + 1)
      stream.once('close', () => {
        if (session) this.streams.set(session, (this.streams.get(session) ?? 1) - 1)
        done()
      })
    })
  }

  private goaway(session: Session): void {
    if (session.closed || session.destroyed || this.sessions.get(session)) return
    try {
      session.goaway(NO_ERROR, ANY_STREAM)
    } catch {
      // the session is going away already
    }
    this.sessions.set(session, performance.now())
  }

  /** Quiescence for an upgrade starts: every session is told to go away. */
  drain(): void {
    this.draining = true
    for (const session of this.sessions.keys()) this.goaway(session)
  }

  /** True once every session has closed; closes those past their grace. */
  settle(): boolean {
    const now = performance.now()
    for (const [session, since] of this.sessions) {
      if (session.closed || since === 0) continue
      // nghttp2 stops reading a session that sent GOAWAY once it has no open
      // stream: a stream the client opens after that would wait unanswered.
      // Closing it then sends the last stream id at once, so the client
      // knows such a stream was not processed (REFUSED_STREAM) and retries it.
      if ((this.streams.get(session) ?? 0) === 0 || now - since >= SESSION_GRACE_MS) session.close()
    }
    return this.sessions.size === 0
  }

  busy(): string | null {
    const n = this.sessions.size
    return n > 0 ? `${n} HTTP/2 session${n === 1 ? '' : 's'} sent GOAWAY still open` : null
  }

  /** Rollback: new sessions are served as before (those told to go away finish closing). */
  resume(): void {
    this.draining = false
  }

  /** Graceful stop: GOAWAY and close every session. */
  closeAll(): void {
    for (const session of this.sessions.keys()) if (!session.closed) session.close()
  }
}
