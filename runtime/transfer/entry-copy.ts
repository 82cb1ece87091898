// Entry-wise pre-copy of one collection root (Map, Set, array, plain object),
// safe without the program's help: nothing is tracked, nothing is promised.
//
// While the program serves, every entry is serialized on its own, sent, and
// recorded in a shadow (shadow.ts): every object's identity, keys, leaf values,
// lengths, Set/Map members, Date times. The sent bytes are not kept. At the
// pause every entry is compared with its shadow: only entries that differ (or
// that are new, deleted or moved) go out. The pause costs one compare pass of
// the root, not a serialize pass, and a change made through any reference —
// one the program kept across turns, a nested object, anything — is seen, as
// is a nested object replaced by another (identity is compared).
//
// Identity across entries is guarded too; the root is dropped and sent whole
// in the pause, as without pre-copy, when:
// - its entries shared objects (with each other or the root) while it was
//   sent, or held registered types (whose data is not their own fields);
// - at the pause, a resent entry shares an object with another resent entry
//   or the root (the validation walk of the resent entries sees it), or holds
//   an object a kept entry holds (kept entries hold exactly the objects they
//   held when sent, so only objects new to the resent entry are looked for).
// An entry holding a value the shadow does not handle (typed arrays, Buffers,
// RegExp, boxed primitives, Errors…) is resent in every pause.
import v8 from 'node:v8'
import { DsuError } from '../errors.js'
import { encodeTable, substitute } from './class-codec.js'
import { FrameType, Kind, type Kind as KindT } from './state-codec.js'
import { objectsOf, Shadow } from './shadow.js'
import { Walker, tooDeep, type Failure, type Marks } from './validate.js'

/** Entries per SLOTS frame, and at most this many bytes (the pipeline keeps moving). */
const CHUNK_ENTRIES = 1024
const CHUNK_BYTES = 256 * 1024
/** Ops per SLOTPATCH frame. */
const PATCH_ENTRIES = 2048

const v8Header = ((): Buffer => {
  const ser = new v8.Serializer()
  ser.writeHeader()
  return ser.releaseBuffer()
})()

function head(type: number, name: string, extra: number): Buffer {
  const bytes = Buffer.byteLength(name)
  const out = Buffer.allocUnsafe(1 + 4 + bytes + extra)
  out[0] = type
  out.writeUInt32BE(bytes, 1)
  out.write(name, 5)
  return out
}

/** The frame that tells the receiver to forget a pre-copied root (it comes whole). */
export function dropFrame(name: string): Buffer {
  return head(FrameType.DROP, name, 0)
}

function typesFrame(marks: Marks): Buffer {
  return Buffer.concat([Buffer.from([FrameType.TYPES]), encodeTable(marks)])
}

// The entries of a root, in its own order. Reads go around the program's own
// (or a wrapper's) methods.
function* entriesOf(root: object, kind: KindT): Generator<[unknown, unknown], void, void> {
  switch (kind) {
    case Kind.MAP:
      yield* Map.prototype.entries.call(root as Map<unknown, unknown>)
      return
    case Kind.SET:
      for (const v of Set.prototype.values.call(root as Set<unknown>)) yield [v, v]
      return
    case Kind.ARRAY: {
      const a = root as unknown[]
      for (let i = 0; i < a.length; i++) yield [i, a[i]]
      return
    }
    default: {
      const o = root as Record<string, unknown>
      for (const key of Object.keys(o)) if (Object.hasOwn(o, key)) yield [key, o[key]]
    }
  }
}

export function sizeOf(root: object, kind: KindT): number {
  switch (kind) {
    case Kind.MAP:
      return Reflect.get(Map.prototype, 'size', root) as number
    case Kind.SET:
      return Reflect.get(Set.prototype, 'size', root) as number
    case Kind.ARRAY:
      return (root as unknown[]).length
    default:
      return Object.keys(root).length
  }
}

/** Keys per map of a SlotIndex: growing one costs at most a rehash of this many (~10 ms), not of the whole root. */
const SLOT_SEGMENT = 1 << 17

/**
 * Key → slot over many maps of at most SLOT_SEGMENT keys: one Map of a
 * million keys rehashes in one go each time it doubles, and the rehash at
 * 512 k stalls the program for 100–200 ms in the middle of the snapshot.
 * A lookup tries the newest map first; a key is in one map only.
 */
export class SlotIndex {
  private readonly maps: Map<unknown, number>[] = [new Map()]
  get(key: unknown): number | undefined {
    for (let i = this.maps.length - 1; i >= 0; i--) {
      const s = this.maps[i]!.get(key)
      if (s !== undefined) return s
    }
    return undefined
  }
  has(key: unknown): boolean {
    return this.get(key) !== undefined
  }
  /** Adds a key not in the index. */
  set(key: unknown, slot: number): void {
    let last = this.maps[this.maps.length - 1]!
    if (last.size >= SLOT_SEGMENT) this.maps.push((last = new Map()))
    last.set(key, slot)
  }
  get size(): number {
    return this.maps.reduce((n, m) => n + m.size, 0)
  }
}

export type DiffOutcome = { frames: Buffer[]; changed: number } | { whole: string }

export class RootCopy {
  // Slot → its key (Map, object, Set); what its entry was when sent is in the shadow.
  private readonly keys: unknown[] = []
  private readonly shadow = new Shadow()
  private readonly slotOf = new SlotIndex()
  private count = 0
  /** Entries sent while serving. */
  get sentEntries(): number {
    return this.count
  }
  /** Why the root must go whole in the pause, once known. */
  unsafe: string | undefined
  private readonly paired: boolean

  constructor(readonly name: string, readonly root: object, readonly kind: KindT) {
    this.paired = kind === Kind.MAP || kind === Kind.OBJECT
  }

  private slotFor(key: unknown): number | undefined {
    return this.kind === Kind.ARRAY ? ((key as number) < this.count ? (key as number) : undefined) : this.slotOf.get(key)
  }

  // The walk of one entry (validation, registered values) at element `e` of a list.
  private walkEntry(walker: Walker, e: number, i: number, key: unknown, value: unknown): Failure | undefined {
    switch (this.kind) {
      case Kind.MAP:
        return walker.chunkMapEntry(e, i, key, value)
      case Kind.OBJECT:
        walker.elementAt(e + 1)
        return walker.objectEntry(key as string, value)
      case Kind.SET:
        walker.elementAt(e)
        return walker.setEntry(i, value)
      default:
        walker.elementAt(e)
        return walker.arrayEntry(key as number, value)
    }
  }

  /**
   * While serving: the root's entries as SLOTS frames (each after its TYPES
   * frame, if any). Stops early, with `unsafe` set, when the root cannot be
   * copied entry by entry; it then goes whole in the pause. A frame holds its
   * keys first (Map, object), then its values, so the values of a chunk are
   * contiguous and the pause compares runs of them in one call.
   */
  *snapshot(): Generator<Buffer, void, void> {
    // One walker for the whole root: the pause's compare trusts that entries
    // kept from the snapshot shared nothing, across frames too. Its identity
    // table (every object of the root) is what the snapshot costs most at
    // 1M records, and its rehashes stall the program (README, Not yet).
    const walker = new Walker()
    walker.claim(this.root)
    let ser = new v8.Serializer()
    let keyParts: Buffer[] = []
    let valueParts: Buffer[] = []
    let slots = 0
    let bytes = 0
    let i = 0
    const flush = (): Buffer[] => {
      walker.stamp++
      const marks = walker.takeMarks()
      if (walker.crossed || walker.anyShared) {
        this.unsafe = 'its entries share objects'
        return []
      }
      if (marks !== undefined && marks.subs.size > 0) {
        this.unsafe = 'it holds registered types'
        return []
      }
      const h = head(FrameType.SLOTS, this.name, 5)
      h[h.length - 5] = this.kind
      h.writeUInt32BE(slots, h.length - 4)
      const frame = Buffer.concat([h, v8Header, ...keyParts, ...valueParts])
      keyParts = []
      valueParts = []
      slots = 0
      bytes = 0
      ser = new v8.Serializer()
      return marks === undefined ? [frame] : [typesFrame(marks), frame]
    }
    try {
      for (const [key, value] of entriesOf(this.root, this.kind)) {
        if (this.unsafe) return
        // A key deleted and set again while this runs is met twice: the pause compares it.
        if (this.kind !== Kind.ARRAY && this.slotOf.has(key)) continue
        if (this.kind === Kind.MAP && typeof key === 'object' && key !== null) {
          this.unsafe = 'it has object keys'
          return
        }
        // Positions of registered values count in the list the receiver rebuilds: k, v, k, v.
        if (this.walkEntry(walker, this.paired ? slots * 2 : slots, i++, key, value)) {
          // Maybe fixed by the pause: there, the stop-and-copy path names it.
          this.unsafe = 'an entry cannot be serialized'
          return
        }
        // (Checked at once: the shadow's walk below must not meet a cycle.)
        if (walker.anyShared || walker.crossed) {
          this.unsafe = 'its entries share objects'
          return
        }
        let b: Buffer
        try {
          if (this.paired) {
            ser.writeValue(key)
            const k = ser.releaseBuffer()
            keyParts.push(k)
            bytes += k.length
          }
          ser.writeValue(value)
          b = ser.releaseBuffer()
        } catch {
          this.unsafe = 'an entry cannot be serialized'
          return
        }
        const s = this.count++
        // What it holds, to compare with at the pause (false: resent then, whatever it holds).
        this.shadow.record(s, value)
        this.keys[s] = key
        if (this.kind !== Kind.ARRAY) this.slotOf.set(key, s)
        valueParts.push(b)
        slots++
        bytes += b.length
        if (slots >= CHUNK_ENTRIES || bytes >= CHUNK_BYTES) yield* flush()
      }
      if (slots > 0) yield* flush()
      this.shadow.trim()
    } catch (error) {
      if (error instanceof RangeError) this.unsafe = 'it is nested too deeply'
      else throw error
    }
  }

  /**
   * At the pause: the SLOTPATCH frames that turn what was sent into the root
   * as it is now, or `whole` (and why) when the root must go whole.
   */
  diff(): DiffOutcome {
    if (this.unsafe) return { whole: this.unsafe }
    const seen = new Uint8Array(this.count)
    // Slots whose entry is resent (changed) or gone: 1.
    const dirty = new Uint8Array(this.count)
    // Changed entries as parallel lists: slot (-1: new), key, value, position.
    const cSlot: number[] = []
    const cKey: unknown[] = []
    const cValue: unknown[] = []
    const cAt: number[] = []
    const order: number[] = []
    let last = -1
    let inOrder = true
    let appended = false
    let nextNew = this.count
    let whole: string | undefined
    let i = 0
    const shadow = this.shadow

    const step = (key: unknown, value: unknown): boolean => {
      // Entries mostly keep their order: the next slot is the likely one, without a lookup.
      const guess = last + 1
      const s = this.kind !== Kind.ARRAY && guess < this.count && this.keys[guess] === key ? guess : this.slotFor(key)
      if (s !== undefined) {
        seen[s] = 1
        if (appended || s < last) inOrder = false
        last = s
      } else {
        appended = true
        if (this.kind === Kind.MAP && typeof key === 'object' && key !== null) {
          whole = 'it has object keys'
          return false
        }
      }
      order.push(s ?? nextNew++)
      if (s === undefined || !shadow.same(s, value)) {
        if (s !== undefined) dirty[s] = 1
        cSlot.push(s ?? -1)
        cKey.push(key)
        cValue.push(value)
        cAt.push(i)
      }
      i++
      return true
    }

    try {
      const root = this.root
      switch (this.kind) {
        // forEach, not an iterator: no [key, value] pair allocated per entry in the pause.
        case Kind.MAP:
          Map.prototype.forEach.call(root as Map<unknown, unknown>, (value, key) => {
            if (whole === undefined) step(key, value)
          })
          break
        case Kind.SET:
          Set.prototype.forEach.call(root as Set<unknown>, (value) => {
            if (whole === undefined) step(value, value)
          })
          break
        case Kind.ARRAY: {
          const a = root as unknown[]
          for (let k = 0; k < a.length; k++) if (!step(k, a[k])) break
          break
        }
        default: {
          const o = root as Record<string, unknown>
          for (const key of Object.keys(o)) if (!step(key, o[key])) break
        }
      }
      if (whole) return { whole }
    } catch (error) {
      if (error instanceof RangeError) throw tooDeep(this.name, error)
      throw error
    }

    // Ops, then frames: changes and new entries in the root's order, deletions, the order.
    const frames: Buffer[] = []
    let ops: unknown[] = []
    // One walk over all resent entries: an object met twice among them is sharing.
    const walker = new Walker()
    walker.claim(this.root)
    const emit = (): void => {
      if (walker.crossed) whole = 'an entry holds the root'
      const marks = walker.takeMarks()
      const h = head(FrameType.SLOTPATCH, this.name, 0)
      const payload = marks !== undefined && marks.subs.size > 0 ? substitute(ops, marks.subs) : ops
      if (marks !== undefined) frames.push(typesFrame(marks))
      const ser = new v8.DefaultSerializer()
      ser.writeRawBytes(h)
      ser.writeHeader()
      try {
        ser.writeValue(payload)
      } catch (error) {
        if (error instanceof RangeError) throw tooDeep(this.name, error)
        const message = error instanceof Error ? error.message : String(error)
        throw new DsuError('DSU_ERR_UNSERIALIZABLE', `${this.name}: ${message}`, { cause: error })
      }
      frames.push(ser.releaseBuffer())
      ops = []
    }
    for (let c = 0; c < cSlot.length; c++) {
      // New entries take the next slots, in the root's order.
      if (cSlot[c]! >= 0) ops.push(1, cSlot[c])
      else ops.push(2)
      const e = ops.length
      if (this.paired) ops.push(cKey[c])
      ops.push(cValue[c])
      const failure = this.walkEntry(walker, e, cAt[c]!, cKey[c], cValue[c])
      if (failure) throw failure.toError(this.name)
      if (ops.length >= PATCH_ENTRIES * 3) emit()
    }
    if (walker.anyShared) return { whole: 'its entries share objects' }
    if (walker.crossed) return { whole: 'an entry holds the root' }
    // Identity, which the receiver cannot rebuild across entries sent apart:
    // the resent entries share nothing with each other or the root (the walk
    // above), nor with a kept entry, which holds exactly the objects it held
    // when sent — those were shared with nothing, so only objects a resent
    // entry did not hold then are looked for.
    const held: object[] = []
    const foreign: object[] = []
    try {
      for (let c = 0; c < cValue.length; c++) {
        held.length = 0
        objectsOf(cValue[c], held)
        shadow.foreign(cSlot[c]!, held, foreign)
      }
    } catch (error) {
      // Deeper than this walk can go: whole, where the stop-and-copy path names it.
      if (error instanceof RangeError) return { whole: 'it is nested too deeply' }
      throw error
    }
    for (let s = 0; s < this.count; s++) if (seen[s] === 0) dirty[s] = 1
    if (shadow.holdsAny(foreign, dirty, this.count)) return { whole: 'its entries share objects' }
    let deleted = 0
    for (let s = 0; s < this.count; s++) {
      if (!seen[s]) {
        if (this.kind === Kind.ARRAY) break
        ops.push(0, s)
        deleted++
      }
    }
    const length = sizeOf(this.root, this.kind)
    if (this.kind === Kind.ARRAY && length < this.count) ops.push(4, length)
    if (ops.length > 0) emit()
    if (!inOrder && this.kind !== Kind.ARRAY) {
      ops.push(3, order)
      emit()
    }
    if (whole) return { whole }
    return { frames, changed: cSlot.length + deleted }
  }
}
