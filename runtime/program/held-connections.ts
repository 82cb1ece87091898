// The new version's side of connections sent ahead during the pause: their
// handles arrive while the state is transferred and are held here, unread
// and unwrapped (nothing reads or writes them: the old version still owns
// them and resumes on its own copies after a rollback). At commit one
// message says which to adopt and how; the others are closed, which only
// closes this process's copy of the socket.
import type { Ahead, AheadAdoption } from '../protocol.js'

interface Closable { close?: () => void }

export class HeldConnections {
  private readonly held = new Map<string, unknown>()

  get size(): number {
    return this.held.size
  }

  hold(ahead: Ahead, handle: unknown): void {
    if (!handle) return
    const key = `${ahead.tag}:${ahead.id}`
    // The same id twice cannot happen; should it, the first copy must not leak.
    close(this.held.get(key))
    this.held.set(key, handle)
  }

  /**
   * Commit: calls `adopt` for each listed connection whose handle is held
   * (in the order listed), then closes every other held handle, of this
   * upgrade or any other. Returns how many were adopted.
   */
  adopt(tag: string, connections: readonly AheadAdoption[], adopt: (handle: unknown, connection: AheadAdoption) => void): number {
    let adopted = 0
    for (const connection of connections) {
      const key = `${tag}:${connection.id}`
      const handle = this.held.get(key)
      if (handle === undefined) continue
      this.held.delete(key)
      adopt(handle, connection)
      adopted++
    }
    this.closeAll()
    return adopted
  }

  closeAll(): void {
    for (const handle of this.held.values()) close(handle)
    this.held.clear()
  }
}

function close(handle: unknown): void {
  try {
    ;(handle as Closable | undefined)?.close?.()
  } catch {
    // already closed
  }
}
