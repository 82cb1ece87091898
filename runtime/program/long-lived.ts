// Long-lived responses: server-sent events, long-poll, streaming downloads. Such
// a response can stay open for hours, so it must not count as a request in
// flight (quiescence would wait for it until the deadline and roll back).
// At quiesce it is frozen like an idle connection: its state is whatever the
// program keeps, and nothing is written to it while the program is paused.
// On rollback it simply continues. At commit, a response the program marked
// with `data` (and whose headers went out) moves to the new version on its
// socket: the new version's adoptLongLived() callback gets a stream that goes
// on writing the same response body (in HTTP chunks when the response was
// chunked), with that data — the client sees nothing happen. Every other
// long-lived response is ended cleanly, by default with res.end(): an
// EventSource then reconnects to the new version with Last-Event-ID, and a
// program that keeps its events (or its last id) in marked state continues
// the stream with no gap.
import { EventEmitter } from 'node:events'
import type http from 'node:http'
import type net from 'node:net'
import type { LongLivedHandOver } from '../protocol.js'

export type HandOff = (res: http.ServerResponse) => void

export interface LongLivedOptions<T = unknown> {
  /**
   * What the new version needs to continue this response (the SSE channel,
   * the last event id written), JSON; asked at commit. Given, the response
   * moves instead of ending, to a version that calls adoptLongLived().
   */
  data?: () => T
  /** Ends the response at commit when it does not move (default res.end()). */
  end?: HandOff
}

interface Marked { end: HandOff | null; data?: () => unknown }
const marked = new WeakMap<object, Marked>()

/**
 * Marks a response as long-lived (text/event-stream responses are recognised
 * without it). `end`, if given, ends it at commit instead of res.end(): say a
 * long-poll answered with "nothing yet, ask again". With `{ data }` it moves
 * to the new version instead (see adoptLongLived).
 */
export function longLived(res: http.ServerResponse | LongLivedStream, options?: HandOff | LongLivedOptions): void {
  if (typeof options === 'function' || options === undefined) marked.set(res, { end: options ?? null })
  else marked.set(res, { end: options.end ?? null, ...(options.data ? { data: options.data } : {}) })
}

/** True for a marked response or one whose Content-Type is text/event-stream. */
export function isLongLived(res: http.ServerResponse): boolean {
  if (marked.has(res)) return true
  const type = res.getHeader('content-type')
  if (typeof type === 'string') return /^\s*text\/event-stream/i.test(type)
  // writeHead(status, headers) without an earlier setHeader() keeps the
  // headers only in the header block it wrote.
  const block = (res as unknown as { _header?: string | null })._header
  return typeof block === 'string' && /\r\ncontent-type:[ \t]*text\/event-stream/i.test(block)
}

/** Ends a long-lived response the way the program asked (default: res.end()). */
export function endLongLived(res: http.ServerResponse): void {
  const end = marked.get(res)?.end
  if (end) end(res)
  else res.end()
}

/**
 * What moves with a response marked with `data`, or null when it cannot move
 * (no data, headers not sent, already ended, or data() failed: it is ended).
 * A stream this version adopted moves again when the program marked it too.
 */
export function handOverOf(res: http.ServerResponse | LongLivedStream): LongLivedHandOver | null {
  const data = marked.get(res)?.data
  if (!data || res.writableEnded) return null
  let chunked: boolean
  if (res instanceof LongLivedStream) {
    if (res.destroyed) return null
    chunked = res.chunked
  } else {
    if (!res.headersSent || !res.socket) return null
    chunked = (res as unknown as { chunkedEncoding?: boolean }).chunkedEncoding === true
  }
  try {
    const value = data() ?? null
    JSON.stringify(value) // it travels as JSON: fail here, where a clean end is still possible
    return { data: value, chunked }
  } catch (cause) {
    process.emitWarning(`dsu: longLived data() failed (${(cause as Error)?.message ?? String(cause)}); that response is ended instead`)
    return null
  }
}

export type AdoptLongLived<T = unknown> = (stream: LongLivedStream, data: T) => void
let adopter: AdoptLongLived | null = null

/**
 * Called in the new version for each long-lived response moved to it, with
 * the `data` the old version gave to longLived(res, { data }). Register it
 * during init, in every version.
 */
export function adoptLongLived<T>(fn: AdoptLongLived<T>): void {
  adopter = fn as AdoptLongLived
}

/**
 * The rest of a moved response: write() appends to its body, end() finishes
 * it (the terminating chunk) and closes the connection; 'close' when the
 * client leaves. Shaped like the ServerResponse it continues, for the calls
 * a stream uses.
 */
export class LongLivedStream extends EventEmitter {
  writableEnded = false
  constructor(readonly socket: net.Socket, readonly chunked: boolean) {
    super()
    socket.on('close', () => this.emit('close'))
    socket.on('drain', () => this.emit('drain'))
    // A write to a client that left fails; 'close' follows, as for a response.
    socket.on('error', () => {})
    // Nothing is expected from the client; reading notices it leaving.
    socket.on('data', () => {})
  }

  get destroyed(): boolean {
    return this.socket.destroyed
  }

  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean {
    if (this.writableEnded || this.socket.destroyed) return false
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    if (body.length === 0) return true
    if (!this.chunked) return this.socket.write(body, callback)
    this.socket.write(`${body.length.toString(16)}\r\n`)
    this.socket.write(body)
    return this.socket.write('\r\n', callback)
  }

  end(chunk?: string | Uint8Array): this {
    if (this.writableEnded) return this
    if (chunk !== undefined) this.write(chunk)
    this.writableEnded = true
    // The response ends here, and with it the connection: it has no HTTP parser in this version.
    if (this.chunked) this.socket.end('0\r\n\r\n')
    else this.socket.end()
    return this
  }

  destroy(): this {
    this.socket.destroy()
    return this
  }
}

/** A response moved here: the program continues it, or it ends cleanly. */
export function adoptStream(socket: net.Socket, handOver: LongLivedHandOver): LongLivedStream {
  const stream = new LongLivedStream(socket, handOver.chunked)
  if (!adopter) {
    process.emitWarning('dsu: a long-lived response moved to this version, which does not call adoptLongLived(); ended cleanly')
    stream.end()
    return stream
  }
  try {
    adopter(stream, handOver.data)
  } catch (cause) {
    process.emitWarning(`dsu: adopting a long-lived response failed: ${(cause as Error)?.message ?? String(cause)}; ended cleanly`)
    stream.end()
  }
  return stream
}
