// The new version's side of connections sent ahead during the pause: their
// handles arrive while the state is transferred and are held here, unread
// and unwrapped (nothing reads or writes them: the old version still owns
// them and resumes on its own copies after a rollback). At commit one
// message says which to adopt and how; the held ones are adopted then, the
// listed ones still on their way as they arrive, and every other one is
// closed, which only closes this process's copy of the socket.
import type { Ahead, AheadAdoption } from '../protocol.js'

interface Closable { close?: () => void }
export type Adopt = (handle: unknown, connection: AheadAdoption) => void

export class HeldConnections {
  private readonly held = new Map<string, unknown>()
  /** Per upgrade tag whose commit came: the listed connections not arrived yet, by id. */
  private readonly committed = new Map<string, Map<number, AheadAdoption>>()

  constructor(private readonly adoptOne: Adopt) {}

  get size(): number {
    return this.held.size
  }

  hold(ahead: Ahead, handle: unknown): void {
    if (!handle) return
    const listed = this.committed.get(ahead.tag)
    if (listed) {
      // After its commit: adopted now if listed, else not wanted.
      const connection = listed.get(ahead.id)
      listed.delete(ahead.id)
      if (connection) this.adoptOne(handle, connection)
      else close(handle)
      return
    }
    const key = `${ahead.tag}:${ahead.id}`
    // The same id twice cannot happen; should it, the first copy must not leak.
    close(this.held.get(key))
    this.held.set(key, handle)
  }

  /**
   * Commit: adopts each listed connection whose handle is held (in the order
   * listed) and remembers the others, adopted when they arrive; closes every
   * other held handle, of this upgrade or any other. Returns how many were
   * adopted now.
   */
  adopt(tag: string, connections: readonly AheadAdoption[]): number {
    let adopted = 0
    const later = new Map<number, AheadAdoption>()
    for (const connection of connections) {
      const key = `${tag}:${connection.id}`
      const handle = this.held.get(key)
      if (handle === undefined) {
        later.set(connection.id, connection)
        continue
      }
      this.held.delete(key)
      this.adoptOne(handle, connection)
      adopted++
    }
    this.committed.set(tag, later)
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
