// The receiving side of entry-wise pre-copy (entry-copy.ts): a root that
// arrives entry by entry while the old version still serves, then gets the
// changed entries at the pause. Every entry has a slot: its arrival number
// (array roots: its index). The root is built in place as entries arrive; it
// is rebuilt once, at the end, only when the old version reordered it (a key
// deleted and set again) or an entry of a Set (or an object key of a Map) was
// replaced, which cannot be done in place.
//
// SLOTS frame: the entries of one chunk, flat: Map k,v,k,v  object key,v  Set/array v,v
// SLOTPATCH ops, flat (k only for Map and object roots):
//   1, slot, [k,] v    the entry in that slot changed
//   2, [k,] v          a new entry, in the next slot
//   0, slot            the entry in that slot was deleted
//   4, length          array roots: the array's length now (shorter: entries dropped)
//   3, [slot…]         the order of the entries now, when it is not slot order

// Same numbers as state-codec.ts's Kind.
const MAP = 1
const SET = 2
const ARRAY = 3
const OBJECT = 4

const DEAD = Symbol('deleted slot')

export class SlotRootError extends Error {}

function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  // Plain assignment to "__proto__" would change the prototype instead.
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
  else object[key] = value
}

export class SlotRoot {
  value: Map<unknown, unknown> | Set<unknown> | unknown[] | Record<string, unknown>
  // Slot → key (Map, object) or element (Set); DEAD once deleted.
  private readonly keys: unknown[] = []
  private rebuild = false
  private order: number[] | undefined

  /**
   * `rule`: what every entry goes through as it arrives, changed entries
   * again (the transformer's per-entry rules); its value is the one kept.
   */
  constructor(readonly kind: number, private readonly rule?: (value: unknown, key: unknown, slot: number) => unknown) {
    if (kind === MAP) this.value = new Map()
    else if (kind === SET) this.value = new Set()
    else if (kind === ARRAY) this.value = []
    else if (kind === OBJECT) this.value = {}
    else throw new SlotRootError(`unknown collection kind ${kind}`)
  }

  private get paired(): boolean {
    return this.kind === MAP || this.kind === OBJECT
  }

  /** A SLOTS frame's entries, in the next slots. */
  add(entries: unknown[]): void {
    const step = this.paired ? 2 : 1
    if (entries.length % step !== 0) throw new SlotRootError('odd entry list')
    for (let i = 0; i < entries.length; i += step) {
      if (step === 2) this.append(entries[i], entries[i + 1])
      else this.append(undefined, entries[i])
    }
  }

  private append(key: unknown, received: unknown): void {
    const value = this.rule === undefined ? received : this.rule(received, this.kind === ARRAY ? (this.value as unknown[]).length : key, this.kind === ARRAY ? (this.value as unknown[]).length : this.keys.length)
    switch (this.kind) {
      case MAP:
        // The sender gives a key one slot for as long as it lives.
        if ((this.value as Map<unknown, unknown>).has(key)) throw new SlotRootError('key sent twice')
        this.keys.push(key)
        ;(this.value as Map<unknown, unknown>).set(key, value)
        return
      case OBJECT:
        this.keys.push(String(key))
        setOwn(this.value as Record<string, unknown>, String(key), value)
        return
      case SET:
        this.keys.push(value)
        ;(this.value as Set<unknown>).add(value)
        return
      default:
        ;(this.value as unknown[]).push(value)
    }
  }

  private slot(ops: unknown[], i: number): number {
    const s = ops[i]
    const size = this.kind === ARRAY ? (this.value as unknown[]).length : this.keys.length
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s >= size || (this.kind !== ARRAY && this.keys[s] === DEAD)) {
      throw new SlotRootError(`bad slot ${String(s)}`)
    }
    return s
  }

  /** A SLOTPATCH frame's ops. */
  patch(ops: unknown[]): void {
    const paired = this.paired
    for (let i = 0; i < ops.length; ) {
      const op = ops[i]
      if (op === 1) {
        const s = this.slot(ops, i + 1)
        if (paired) this.replace(s, ops[i + 2], ops[i + 3])
        else this.replace(s, undefined, ops[i + 2])
        i += paired ? 4 : 3
      } else if (op === 2) {
        if (paired) this.append(ops[i + 1], ops[i + 2])
        else this.append(undefined, ops[i + 1])
        i += paired ? 3 : 2
      } else if (op === 0) {
        this.remove(this.slot(ops, i + 1))
        i += 2
      } else if (op === 4 && this.kind === ARRAY) {
        const n = ops[i + 1]
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new SlotRootError(`bad length ${String(n)}`)
        ;(this.value as unknown[]).length = n
        i += 2
      } else if (op === 3 && this.kind !== ARRAY) {
        const order = ops[i + 1]
        if (!Array.isArray(order)) throw new SlotRootError('order is not a list')
        this.order = order as number[]
        i += 2
      } else {
        throw new SlotRootError(`bad op ${String(op)}`)
      }
      if (i > ops.length) throw new SlotRootError('truncated op')
    }
  }

  private replace(s: number, key: unknown, received: unknown): void {
    const value = this.rule === undefined ? received : this.rule(received, this.kind === ARRAY ? s : this.kind === OBJECT ? this.keys[s] : key, s)
    switch (this.kind) {
      case MAP: {
        const map = this.value as Map<unknown, unknown>
        const old = this.keys[s]
        if (!Object.is(old, key) && !(old !== old && key !== key)) {
          // An object key (a received copy) that changed: a new key, same place.
          map.delete(old)
          this.keys[s] = key
          this.rebuild = true
        }
        map.set(key, value)
        return
      }
      case OBJECT:
        setOwn(this.value as Record<string, unknown>, this.keys[s] as string, value)
        return
      case SET: {
        const set = this.value as Set<unknown>
        set.delete(this.keys[s])
        this.keys[s] = value
        set.add(value)
        this.rebuild = true
        return
      }
      default:
        ;(this.value as unknown[])[s] = value
    }
  }

  private remove(s: number): void {
    const key = this.keys[s]
    this.keys[s] = DEAD
    if (this.kind === MAP) {
      ;(this.value as Map<unknown, unknown>).delete(key)
    } else if (this.kind === OBJECT) {
      delete (this.value as Record<string, unknown>)[key as string]
    } else if (this.kind === SET) {
      ;(this.value as Set<unknown>).delete(key)
    }
  }

  /** The finished root and its record count (distinct entries). */
  finish(): { value: unknown; records: number } {
    if (this.kind === ARRAY) return { value: this.value, records: (this.value as unknown[]).length }
    if (this.order !== undefined || this.rebuild) {
      const order = this.order ?? this.keys.flatMap((key, s) => (key === DEAD ? [] : [s]))
      for (const s of order) if (typeof s !== 'number' || !(s >= 0 && s < this.keys.length) || this.keys[s] === DEAD) throw new SlotRootError(`bad slot ${String(s)} in order`)
      if (this.kind === MAP) {
        const map = this.value as Map<unknown, unknown>
        this.value = new Map(order.map((s) => [this.keys[s], map.get(this.keys[s])]))
      } else if (this.kind === SET) {
        this.value = new Set(order.map((s) => this.keys[s]))
      } else {
        const object = this.value as Record<string, unknown>
        const rebuilt: Record<string, unknown> = {}
        for (const s of order) setOwn(rebuilt, this.keys[s] as string, object[this.keys[s] as string])
        this.value = rebuilt
      }
    }
    const v = this.value
    const records = v instanceof Map || v instanceof Set ? v.size : Object.keys(v).length
    return { value: v, records }
  }
}
