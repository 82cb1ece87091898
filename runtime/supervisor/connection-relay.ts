// Connections on their way from the old version to the new one, through the
// supervisor (each process has an IPC channel only to it). Every handle is
// forwarded as soon as it arrives, not collected first; Node queues the sends
// behind each handle's acknowledgement, in order, so the message that says
// how to adopt the handles sent ahead ('adopt-ahead') reaches the new version
// after them. The supervisor's own copy of a handle is closed once it is
// written to the new version (or at once if that version is gone).
//
// Handles come at two times: sent ahead once the old version is quiesced
// ('quiesced' says how many, tagged with this upgrade), and at commit. After a
// rollback the relay keeps closing the handles still announced, then stops:
// a handle nobody closes here would keep its connection open after the old
// version closed its own copy.
import type { ProgramMessage } from '../protocol.js'
import type { ProgramProcess } from './program-process.js'

export interface ConnectionRelay {
  /** The upgrade committed and the old version handed everything off. */
  stop(): void
  /**
   * The upgrade rolled back: close what is still announced as it arrives,
   * then stop (at the latest after `graceMs`, should the count never come).
   */
  drain(graceMs?: number): void
  /** Handles forwarded (or closed) so far, sent ahead and at commit. */
  readonly relayed: number
}

type Closable = { close?: () => void }

export function relayConnections(old: ProgramProcess, next: ProgramProcess, tag: string): ConnectionRelay {
  let expected: number | null = null
  let seen = 0
  let relayed = 0
  let draining = false
  let timer: NodeJS.Timeout | undefined
  let off: () => void = () => {}
  let offExit: () => void = () => {}
  let stopped = false
  const stop = (): void => {
    stopped = true
    off()
    offExit()
    clearTimeout(timer)
  }
  const drained = (): boolean => draining && expected !== null && seen >= expected
  off = old.onMessage((message: ProgramMessage, handle: unknown) => {
    if (message.dsu === 'quiesced') {
      if (message.ahead?.tag !== tag) return
      expected = message.ahead.count
      if (drained()) stop()
      return
    }
    if (message.dsu === 'adopt-ahead') {
      if (message.tag === tag && !draining) void next.send(message)
      return
    }
    if (message.dsu !== 'connection') return
    // Another upgrade's (one that rolled back just before this one began).
    if (message.ahead && message.ahead.tag !== tag) return
    relayed++
    const forwarded = draining ? Promise.resolve() : next.send(message, handle)
    void forwarded.then(() => close(handle))
    if (message.ahead) {
      seen++
      if (drained()) stop()
    }
  })
  offExit = old.onExit(() => stop())
  if (stopped) off()
  return {
    stop,
    drain(graceMs = 30_000) {
      draining = true
      if (drained()) return stop()
      timer = setTimeout(stop, graceMs)
      timer.unref?.()
    },
    get relayed() {
      return relayed
    },
  }
}

function close(handle: unknown): void {
  try {
    ;(handle as Closable | null | undefined)?.close?.()
  } catch {
    // already closed
  }
}
