// Long-lived responses: server-sent events, long-poll, streaming downloads. Such
// a response can stay open for hours, so it must not count as a request in
// flight (quiescence would wait for it until the deadline and roll back).
// At quiesce it is frozen like an idle connection: its state is whatever the
// program keeps, and nothing is written to it while the program is paused.
// On rollback it simply continues. At commit it is ended cleanly, by default
// with res.end(): an EventSource then reconnects to the new version with
// Last-Event-ID, and a program that keeps its events (or its last id) in
// marked state continues the stream with no gap.
import type http from 'node:http'

export type HandOff = (res: http.ServerResponse) => void

const marked = new WeakMap<http.ServerResponse, HandOff | null>()

/**
 * Marks a response as long-lived (text/event-stream responses are recognised
 * without it). `end`, if given, ends it at commit instead of res.end(): say a
 * long-poll answered with "nothing yet, ask again".
 */
export function longLived(res: http.ServerResponse, end?: HandOff): void {
  marked.set(res, end ?? null)
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
  const end = marked.get(res)
  if (end) end(res)
  else res.end()
}
