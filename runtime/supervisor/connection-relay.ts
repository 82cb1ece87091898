// Connections on their way from the old version to the new one, through the
// supervisor (each process has an IPC channel only to it). Every handle is
// forwarded as it arrives, not collected first, but one at a time: Node
// sends a handle only once the one before is acknowledged, and every other
// message to that process queues behind, so forwarding a hundred at once
// would hold the new version's 'activate' (the end of the pause) behind all of
// them. Sent one by one, it waits for one at most; and none is forwarded
// from the moment the new version has restored the state until it is active
// (its init, then the activation, the end of the pause), so that even that
// one is not in the way: they wait here, and go on after. Order is kept, but for
// the message that says how to adopt the handles sent ahead ('adopt-ahead'):
// it jumps the queue, so the new version adopts what it holds at once and
// the rest as they arrive (held-connections.ts). The supervisor's
// own copy of a handle is closed once it is written to the new version (or
// at once if that version is gone).
//
// Handles come at two times: sent ahead once the old version is quiesced
// ('quiesced' says how many, tagged with this upgrade), and at commit. After a
// rollback the relay keeps closing the handles still announced, then stops:
// a handle nobody closes here would keep its connection open after the old
// version closed its own copy.
import type { ProgramMessage, SupervisorMessage } from '../protocol.js'
import type { ProgramProcess } from './program-process.js'

export interface ConnectionRelay {
  /**
   * The upgrade committed and the old version handed everything off: no
   * more messages are taken (what is queued still goes on).
   */
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

/** `ahead`: whether the old version was asked to send connections ahead (otherwise none are announced). */
export function relayConnections(old: ProgramProcess, next: ProgramProcess, tag: string, ahead = true): ConnectionRelay {
  let expected: number | null = ahead ? null : 0
  let seen = 0
  let relayed = 0
  let draining = false
  let timer: NodeJS.Timeout | undefined
  let off: () => void = () => {}
  let offExit: () => void = () => {}
  let offNext: () => void = () => {}
  let stopped = false
  const stop = (): void => {
    stopped = true
    off()
    offNext()
    offExit()
    clearTimeout(timer)
  }
  const drained = (): boolean => draining && expected !== null && seen >= expected
  // Forwarded one at a time, in arrival order (see above).
  const queue: Array<{ message: SupervisorMessage; handle?: unknown }> = []
  let forwarding = false
  /** Between the new version's 'restored' and 'active' (see above). */
  let holding = false
  const forward = async (): Promise<void> => {
    if (forwarding) return
    forwarding = true
    while (queue.length > 0 && (draining || !holding)) {
      const { message, handle } = queue.shift()!
      if (!draining) await next.send(message, handle)
      close(handle)
    }
    forwarding = false
  }
  const enqueue = (message: SupervisorMessage, handle?: unknown, first = false): void => {
    if (first) queue.unshift({ message, handle })
    else queue.push({ message, handle })
    void forward()
  }
  off = old.onMessage((message: ProgramMessage, handle: unknown) => {
    if (message.dsu === 'quiesced' || message.dsu === 'quiesce-failed') {
      // A failed quiesce sends nothing ahead.
      if (message.dsu === 'quiesce-failed') expected ??= 0
      else if (message.ahead?.tag === tag) expected = message.ahead.count
      else return
      if (drained()) stop()
      return
    }
    if (message.dsu === 'adopt-ahead') {
      if (message.tag === tag && !draining) enqueue(message, undefined, true)
      return
    }
    if (message.dsu !== 'connection') return
    // Another upgrade's (one that rolled back just before this one began).
    if (message.ahead && message.ahead.tag !== tag) return
    // Rolled back: a connection sent at commit belongs to a later upgrade's relay.
    if (!message.ahead && draining) return
    relayed++
    enqueue(message, handle)
    if (message.ahead) {
      seen++
      if (drained()) stop()
    }
  })
  offNext = next.onMessage((message) => {
    if (message.dsu === 'restored') holding = true
    else if (message.dsu === 'active') {
      holding = false
      void forward()
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
  if (!handle) return
  try {
    ;(handle as Closable | null | undefined)?.close?.()
  } catch {
    // already closed
  }
}
