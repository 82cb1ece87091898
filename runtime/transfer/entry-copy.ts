// Entry-wise pre-copy of one collection root (Map, Set, array, plain object),
// safe without the program's help: nothing is tracked, nothing is promised.
//
// While the program serves, every entry is serialized on its own (one v8
// serializer per chunk, its buffer released after each entry), sent, and its
// bytes kept. At the pause every entry is serialized again, in one serializer
// for the whole root, and compared byte for byte with what was sent: only
// entries whose bytes differ (or that are new, deleted or moved) go out. The
// pause costs one serialize pass of the root, not serialize + deserialize, and
// a change made through any reference — one the program kept across turns,
// a nested object, anything — changes the bytes, so it is seen.
//
// What bytes cannot show is identity, so the comparison also guards it:
// - a root whose entries shared objects within one frame (with each other or
//   the root) while it was sent, or that held registered types (whose data is
//   not their own fields), is dropped and sent whole in the pause, as without
//   pre-copy; sharing across frames is left to the pause's check below (one
//   identity table over a whole large root would be the snapshot's biggest
//   cost: 4 M objects for 1 M records, and its rehashes stall the program for
//   up to a second);
// - at the pause the whole root goes through one serializer, so an object met
//   a second time is written as a back-reference: an entry that differs is also
//   serialized alone, and if the two differ it shares something, and the root
//   goes whole;
// - an entry whose top-level value was replaced is resent even if its bytes
//   are the same (it may be an instance of another class).
// A nested object replaced by an instance of another class with the same own
// fields is not seen (README, "Pre-copy").
import v8 from 'node:v8'
import { DsuError } from '../errors.js'
import { encodeTable, substitute } from './class-codec.js'
import { FrameType, Kind, type Kind as KindT } from './state-codec.js'
import { Walker, tooDeep, type Failure, type Marks } from './validate.js'

/** Entries per SLOTS frame, and at most this many bytes (the pipeline keeps moving). */
const CHUNK_ENTRIES = 1024
const CHUNK_BYTES = 256 * 1024
/** Entries compared in one released buffer at the pause (fewer buffers, fewer GCs). */
const GROUP = 2048
/** Most entries compared in one call: a run that differs is searched by halving. */
const RUN = 64
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
  // Slot → where its sent bytes are, its key (Map, object, Set) and top-level value.
  private bufs: Buffer[] = []
  private off = new Uint32Array(1024)
  private len = new Uint32Array(1024)
  private alive = new Uint8Array(1024)
  private readonly keys: unknown[] = []
  private readonly refs: unknown[] = []
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

  private grow(n: number): void {
    if (n <= this.off.length) return
    let size = this.off.length
    while (size < n) size *= 2
    const off = new Uint32Array(size)
    off.set(this.off)
    const len = new Uint32Array(size)
    len.set(this.len)
    const alive = new Uint8Array(size)
    alive.set(this.alive)
    this.off = off
    this.len = len
    this.alive = alive
  }

  private slotFor(key: unknown): number | undefined {
    return this.kind === Kind.ARRAY ? ((key as number) < this.count ? (key as number) : undefined) : this.slotOf.get(key)
  }

  // What is compared is the value's bytes alone: a key (a string or other
  // primitive) is the slot itself, and v8 gives strings no identity.
  private write(ser: v8.Serializer, value: unknown): void {
    ser.writeValue(value)
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
    // One walker per frame: it checks its frame's entries (sharing within the
    // frame, the root held by an entry, registered values) and is dropped
    // with the frame, so the snapshot keeps no identity table of its own.
    let walker = new Walker()
    walker.claim(this.root)
    let ser = new v8.Serializer()
    let keyParts: Buffer[] = []
    let valueParts: Buffer[] = []
    let slots: number[] = []
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
      h.writeUInt32BE(slots.length, h.length - 4)
      const frame = Buffer.concat([h, v8Header, ...keyParts, ...valueParts])
      let at = frame.length - valueParts.reduce((n, b) => n + b.length, 0)
      for (let j = 0; j < slots.length; j++) {
        const s = slots[j]!
        this.bufs[s] = frame
        this.off[s] = at
        at += this.len[s]!
      }
      keyParts = []
      valueParts = []
      slots = []
      bytes = 0
      ser = new v8.Serializer()
      walker = new Walker()
      walker.claim(this.root)
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
        if (this.walkEntry(walker, this.paired ? slots.length * 2 : slots.length, i++, key, value)) {
          // Maybe fixed by the pause: there, the stop-and-copy path names it.
          this.unsafe = 'an entry cannot be serialized'
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
          this.write(ser, value)
          b = ser.releaseBuffer()
        } catch {
          this.unsafe = 'an entry cannot be serialized'
          return
        }
        const s = this.count++
        this.grow(this.count)
        this.len[s] = b.length
        this.alive[s] = 1
        this.keys[s] = key
        this.refs[s] = value
        if (this.kind !== Kind.ARRAY) this.slotOf.set(key, s)
        valueParts.push(b)
        slots.push(s)
        bytes += b.length
        if (slots.length >= CHUNK_ENTRIES || bytes >= CHUNK_BYTES) yield* flush()
      }
      if (slots.length > 0) yield* flush()
    } catch (error) {
      if (error instanceof RangeError) this.unsafe = 'it is nested too deeply'
      else throw error
    }
  }

  private sent(s: number): Buffer {
    return this.bufs[s]!.subarray(this.off[s]!, this.off[s]! + this.len[s]!)
  }

  private alone(value: unknown): Buffer {
    const ser = new v8.Serializer()
    this.write(ser, value)
    return ser.releaseBuffer()
  }

  // A value v8 refused at the pause: the walk names it.
  private refused(key: unknown, value: unknown, i: number, error: unknown): DsuError {
    if (error instanceof RangeError) return tooDeep(this.name, error)
    const failure = this.walkEntry(new Walker(), 0, i, key, value)
    if (failure) return failure.toError(this.name)
    const message = error instanceof Error ? error.message : String(error)
    return new DsuError('DSU_ERR_UNSERIALIZABLE', `${this.name}: ${message}`, { cause: error })
  }

  /**
   * At the pause: the SLOTPATCH frames that turn what was sent into the root
   * as it is now, or `whole` (and why) when the root must go whole.
   */
  diff(): DiffOutcome {
    if (this.unsafe) return { whole: this.unsafe }
    const ser = new v8.Serializer()
    ser.writeHeader()
    ser.releaseBuffer()
    const seen = new Uint8Array(this.count)
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
    // The group being serialized: its slots, keys, values.
    const gSlot: number[] = []
    const gKey: unknown[] = []
    const gValue: unknown[] = []
    const gAt: number[] = []
    let whole: string | undefined
    let i = 0
    const change = (slot: number, key: unknown, value: unknown, at: number): void => {
      cSlot.push(slot)
      cKey.push(key)
      cValue.push(value)
      cAt.push(at)
    }

    // Compares a released group with what was sent. Runs of consecutive
    // slots sent in one frame are compared in one call; in a run that
    // differs, the first differing byte is found by halving, its entry is
    // serialized alone (which also gives where the next entry starts), and
    // the comparison goes on after it.
    const flush = (): void => {
      const n = gSlot.length
      if (n === 0) return
      const buf = ser.releaseBuffer()
      let pos = 0
      let k = 0
      while (k < n && whole === undefined) {
        let e = k
        const frame = this.bufs[gSlot[k]!]!
        while (e + 1 < n && e - k < RUN && gSlot[e + 1] === gSlot[e]! + 1 && this.bufs[gSlot[e + 1]!] === frame) e++
        const from = this.off[gSlot[k]!]!
        const runBytes = this.off[gSlot[e]!]! + this.len[gSlot[e]!]! - from
        // Whether bytes [a, b) of the run are as sent.
        const same = (a: number, b: number): boolean => pos + b <= buf.length && buf.compare(frame, from + a, from + b, pos + a, pos + b) === 0
        if (same(0, runBytes)) {
          pos += runBytes
          k = e + 1
          continue
        }
        // The longest equal prefix (only the part not yet known equal is compared):
        // its end is in the first entry that differs.
        let lo = 0
        let hi = runBytes
        while (lo < hi) {
          const mid = Math.ceil((lo + hi) / 2)
          if (same(lo, mid)) lo = mid
          else hi = mid - 1
        }
        let j = k
        while (j < e && this.off[gSlot[j + 1]!]! <= from + lo) j++
        const at = pos + (this.off[gSlot[j]!]! - from)
        const alone = this.alone(gValue[j])
        // Equal only if nothing in this entry was met before in this pass: no sharing.
        if (at + alone.length > buf.length || buf.compare(alone, 0, alone.length, at, at + alone.length) !== 0) whole = 'its entries share objects'
        if (!alone.equals(this.sent(gSlot[j]!))) change(gSlot[j]!, gKey[j], gValue[j], gAt[j]!)
        pos = at + alone.length
        k = j + 1
      }
      if (whole === undefined && pos !== buf.length) whole = 'its entries share objects'
      gSlot.length = gKey.length = gValue.length = gAt.length = 0
    }

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
      try {
        if (s !== undefined && this.refs[s] === value) {
          this.write(ser, value)
          gSlot.push(s)
          gKey.push(key)
          gValue.push(value)
          gAt.push(i)
          if (gSlot.length >= GROUP) flush()
        } else {
          flush()
          this.write(ser, value)
          const here = ser.releaseBuffer()
          if (!here.equals(this.alone(value))) whole = 'its entries share objects'
          change(s ?? -1, key, value, i)
        }
      } catch (error) {
        throw this.refused(key, value, i, error)
      }
      i++
      return whole === undefined
    }

    try {
      const root = this.root
      switch (this.kind) {
        case Kind.MAP:
          for (const [key, value] of Map.prototype.entries.call(root as Map<unknown, unknown>)) if (!step(key, value)) break
          break
        case Kind.SET:
          for (const value of Set.prototype.values.call(root as Set<unknown>)) if (!step(value, value)) break
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
      if (whole === undefined) flush()
    } catch (error) {
      if (error instanceof RangeError) throw tooDeep(this.name, error)
      throw error
    }
    if (whole) return { whole }

    // Ops, then frames: changes and new entries in the root's order, deletions, the order.
    const frames: Buffer[] = []
    let ops: unknown[] = []
    let walker = new Walker()
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
      ser.writeValue(payload)
      frames.push(ser.releaseBuffer())
      ops = []
      walker = new Walker()
      walker.claim(this.root)
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
    let deleted = 0
    for (let s = 0; s < this.count; s++) {
      if (this.alive[s] && !seen[s]) {
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
