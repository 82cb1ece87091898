// The pause's change detector for entry-wise pre-copy (entry-copy.ts): while
// serving, each entry sent is also recorded as a flat "shadow" — every object's
// identity, its prototype and own keys, every leaf value, array lengths and
// holes, Set/Map members in order, a Date's time. At the pause each live entry
// is walked in lock-step with its shadow: the first token that differs marks
// it changed. This is cheaper than serializing the entry again, and it sees
// more than the bytes would: an object replaced by another (of any class, even
// with the same fields) differs by identity.
//
// Why it is exact: every object met is compared by identity first, so what
// is left to see is a change *inside* a known object, and the shadow holds all
// that v8.serialize writes of the kinds it handles (plain objects and
// registered class instances: own enumerable string keys in order and their
// values; arrays: length, holes, elements and no other own keys; Date: time;
// Set/Map: members in order). Any other object (typed arrays, Buffers, RegExp,
// boxed primitives, Errors, registered types, exotic ones) makes the entry
// "volatile": it is resent in every pause, never guessed.
//
// Storage keeps the GC's work small: tags in a Uint8Array, numbers (leaves,
// lengths, sizes, times) in a Float64Array, and only references (strings and
// other non-number primitives, key lists, objects) in plain arrays. Objects
// have their own array, so the sharing check scans nothing else.
import { isMap, isSet } from 'node:util/types'
import { classTagOf } from './registry.js'

const enum T {
  NUM = 1, // nums: the value
  PRIM = 2, // refs: a string, boolean, undefined, null, bigint (Object.is)
  OBJ = 3, // objs: identity; ints: its key list [proto, k1, k2, …] in `shapes`; then the values
  ARR = 4, // objs: identity; ints: length; then elements (HOLE for a hole)
  HOLE = 5,
  DATE = 6, // objs: identity; nums: time
  SET = 7, // objs: identity; ints: size; then members
  MAP = 8, // objs: identity; ints: size; then key, value…
  INT = 9, // ints: the value (an int32 that is not -0: most numbers, in half the room)
  // ARR, SET, MAP of a registered class: as those, with its prototype in refs first.
  // Each is its base kind + 6 (OF_OFFSET): the body is recorded and walked as the base kind's.
  ARR_OF = 10,
  SET_OF = 13,
  MAP_OF = 14,
}

const OF_OFFSET = T.ARR_OF - T.ARR

const objectProto = Object.prototype
const arrayProto = Array.prototype
const dateProto = Date.prototype
const setProto = Set.prototype
const mapProto = Map.prototype
const getProto = Object.getPrototypeOf
const hasOwn = Object.hasOwn
// In a for-in loop, V8 turns this form (not Object.hasOwn) into a check of the object's shape: several times faster.
const hop = Object.prototype.hasOwnProperty
const objectKeys = Object.keys
const getTime = Date.prototype.getTime
const setValues = Set.prototype.values
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, 'size')!.get!
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!
const mapEntries = Map.prototype.entries

// Thrown (never escapes this file) when a value the shadow does not handle is met.
class Volatile {}
const VOLATILE = new Volatile()

function isRealArray(v: object): boolean {
  return Array.isArray(v)
}
// What kind v8 writes an object as, for the prototypes the shadow handles; 0: volatile.
function kindOf(v: object, p: object | null): T | 0 {
  if (p === objectProto) return T.OBJ
  if (p === arrayProto) return T.ARR
  if (p === dateProto) return T.DATE
  if (p === setProto) return T.SET
  if (p === mapProto) return T.MAP
  if (p === null) return T.OBJ
  // A registered class: v8 writes what the instance is underneath.
  if (classTagOf(p) === undefined) return 0
  if (isRealArray(v)) return T.ARR_OF
  // What the object is, not what its prototype chain says (an exact native
  // check: a try/catch around Set's size getter cost ~8 µs per plain instance).
  if (isSet(v)) return T.SET_OF
  if (isMap(v)) return T.MAP_OF
  // A class instance over a Date (or other built-in) is not a plain one: resend it.
  return v instanceof Date ? 0 : T.OBJ
}

type Grown = Uint8Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>

/** A copy of `a` with room for `length` elements (the shadow's streams and per-slot tables grow by doubling). */
function resized<A extends Grown>(a: A, length: number): A {
  const b = new (a.constructor as new (length: number) => A)(length)
  b.set(a)
  return b
}

export class Shadow {
  private tags = new Uint8Array(1 << 16)
  private nt = 0
  private nums = new Float64Array(1 << 14)
  private nn = 0
  private ints = new Int32Array(1 << 14)
  private ni = 0
  private readonly refs: unknown[] = []
  private readonly objs: object[] = []
  // Per slot: where its shadow starts in each stream (slot + 1: where it ends).
  private tagAt = new Uint32Array(1025)
  private numAt = new Uint32Array(1025)
  private intAt = new Uint32Array(1025)
  private refAt = new Uint32Array(1025)
  private objAt = new Uint32Array(1025)
  private volatile_ = new Uint8Array(1024)
  private slots = 0
  // Key lists [proto, k1, k2, …]; objects of one shape (met in a row) share one.
  private readonly shapes: unknown[][] = []
  private lastShape = -1
  private readonly keys: string[] = []
  // Cursors of the compare.
  private ct = 0
  private cn = 0
  private ci = 0
  private cr = 0
  private co = 0

  /** Slots recorded. */
  get size(): number {
    return this.slots
  }

  private growSlots(): void {
    const n = this.volatile_.length * 2
    this.tagAt = resized(this.tagAt, n + 1)
    this.numAt = resized(this.numAt, n + 1)
    this.intAt = resized(this.intAt, n + 1)
    this.refAt = resized(this.refAt, n + 1)
    this.objAt = resized(this.objAt, n + 1)
    this.volatile_ = resized(this.volatile_, n)
  }

  private tag(t: T): void {
    if (this.nt === this.tags.length) this.tags = resized(this.tags, Math.max(64, this.tags.length * 2))
    this.tags[this.nt++] = t
  }

  private num(x: number): void {
    if (this.nn === this.nums.length) this.nums = resized(this.nums, Math.max(64, this.nums.length * 2))
    this.nums[this.nn++] = x
  }

  private int(x: number): void {
    if (this.ni === this.ints.length) this.ints = resized(this.ints, Math.max(64, this.ints.length * 2))
    this.ints[this.ni++] = x
  }

  /**
   * Records the entry in slot `slot` (slots come in order: 0, 1, 2…). Returns
   * false if it holds a value the shadow does not handle: it is then resent
   * in every pause. A RangeError (nested too deeply) is thrown through.
   */
  record(slot: number, value: unknown): boolean {
    if (slot !== this.slots) throw new Error(`shadow: slot ${slot} recorded out of order`)
    if (slot === this.volatile_.length) this.growSlots()
    const t0 = this.nt
    const n0 = this.nn
    const i0 = this.ni
    const r0 = this.refs.length
    const o0 = this.objs.length
    let ok = true
    try {
      this.rec(value)
    } catch (error) {
      if (error !== VOLATILE) throw error
      // Nothing of it is kept: it is never compared.
      this.nt = t0
      this.nn = n0
      this.ni = i0
      this.refs.length = r0
      this.objs.length = o0
      ok = false
    }
    this.volatile_[slot] = ok ? 0 : 1
    this.slots++
    this.tagAt[this.slots] = this.nt
    this.numAt[this.slots] = this.nn
    this.intAt[this.slots] = this.ni
    this.refAt[this.slots] = this.refs.length
    this.objAt[this.slots] = this.objs.length
    return ok
  }

  private rec(v: unknown): void {
    if (typeof v !== 'object' || v === null) {
      if (typeof v === 'number') {
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          this.tag(T.INT)
          this.int(v)
        } else {
          this.tag(T.NUM)
          this.num(v)
        }
      } else {
        this.tag(T.PRIM)
        this.refs.push(v)
      }
      return
    }
    const p = getProto(v) as object | null
    const kind = kindOf(v, p)
    if (kind === 0) throw VOLATILE
    this.tag(kind)
    this.objs.push(v)
    switch (kind) {
      case T.ARR_OF:
      case T.SET_OF:
      case T.MAP_OF:
        this.refs.push(p)
        this.body(v, kind - OF_OFFSET)
        return
      default:
        this.body(v, kind)
    }
  }

  private body(v: object, kind: T): void {
    switch (kind) {
      case T.OBJ: {
        const p = getProto(v) as object | null
        const o = v as Record<string, unknown>
        const keys = this.keys
        keys.length = 0
        for (const k in o) if (hop.call(o, k)) keys.push(k)
        let list = this.lastShape < 0 ? [] : this.shapes[this.lastShape]!
        let same = list.length === keys.length + 1 && list[0] === p
        for (let j = 0; same && j < keys.length; j++) same = list[j + 1] === keys[j]
        if (!same) {
          list = [p, ...keys]
          this.lastShape = this.shapes.length
          this.shapes.push(list)
        }
        this.int(this.lastShape)
        for (let j = 1; j < list.length; j++) this.rec(o[list[j] as string])
        return
      }
      case T.ARR: {
        const a = v as unknown[]
        const n = a.length
        this.int(n)
        let holes = 0
        for (let i = 0; i < n; i++) {
          const x = a[i]
          if (x === undefined && !hasOwn(a, i)) {
            this.tag(T.HOLE)
            holes++
          } else this.rec(x)
        }
        // v8 also writes an array's other own keys: an array with any is not handled.
        if (objectKeys(a).length !== n - holes) throw VOLATILE
        return
      }
      case T.DATE:
        this.num(getTime.call(v))
        return
      case T.SET: {
        this.int(setSize.call(v) as number)
        for (const x of setValues.call(v as Set<unknown>)) this.rec(x)
        return
      }
      default: {
        this.int(mapSize.call(v) as number)
        for (const [k, x] of mapEntries.call(v as Map<unknown, unknown>)) {
          this.rec(k)
          this.rec(x)
        }
      }
    }
  }

  /** Drops the room grown for more entries (once all are recorded). */
  trim(): void {
    this.tags = this.tags.slice(0, this.nt)
    this.nums = this.nums.slice(0, this.nn)
    this.ints = this.ints.slice(0, this.ni)
  }

  /** Whether the entry in `slot` is resent in every pause. */
  isVolatile(slot: number): boolean {
    return this.volatile_[slot] === 1
  }

  /** Whether `value` is, to the last detail v8 would write and by identity, what `slot` recorded. */
  same(slot: number, value: unknown): boolean {
    if (this.volatile_[slot] === 1) return false
    this.ct = this.tagAt[slot]!
    this.cn = this.numAt[slot]!
    this.ci = this.intAt[slot]!
    this.cr = this.refAt[slot]!
    this.co = this.objAt[slot]!
    try {
      if (!this.cmp(value)) return false
    } catch (error) {
      // Too deep to compare here (the pause's serializer names it), or a
      // getter that throws: resend, never guess.
      void error
      return false
    }
    const s = slot + 1
    return this.ct === this.tagAt[s] && this.cn === this.numAt[s] && this.ci === this.intAt[s] && this.cr === this.refAt[s] && this.co === this.objAt[s]
  }

  private cmp(v: unknown): boolean {
    const t = this.tags[this.ct++]
    if (typeof v !== 'object' || v === null) {
      if (t === T.INT) return this.ints[this.ci++] === v && (v !== 0 || 1 / v > 0)
      if (t === T.NUM) return Object.is(this.nums[this.cn++], v)
      return t === T.PRIM && Object.is(this.refs[this.cr++], v)
    }
    if (t === T.NUM || t === T.INT || t === T.PRIM || t === T.HOLE || t === undefined || this.objs[this.co++] !== v) return false
    // The same object: what may have changed is inside it, or its prototype.
    const p = getProto(v) as object | null
    switch (t) {
      case T.ARR:
        return p === arrayProto && this.cmpArray(v as unknown[])
      case T.SET:
        return p === setProto && this.cmpSet(v as Set<unknown>)
      case T.MAP:
        return p === mapProto && this.cmpMap(v as Map<unknown, unknown>)
      case T.ARR_OF:
        return this.refs[this.cr++] === p && this.cmpArray(v as unknown[])
      case T.SET_OF:
        return this.refs[this.cr++] === p && this.cmpSet(v as Set<unknown>)
      case T.MAP_OF:
        return this.refs[this.cr++] === p && this.cmpMap(v as Map<unknown, unknown>)
      case T.OBJ: {
        const list = this.shapes[this.ints[this.ci++]!]!
        if (list[0] !== p) return false
        const o = v as Record<string, unknown>
        let j = 1
        for (const k in o) {
          if (!hop.call(o, k)) continue
          if (list[j++] !== k || !this.cmp(o[k])) return false
        }
        return j === list.length
      }
      case T.DATE:
        return p === dateProto && Object.is(this.nums[this.cn++], getTime.call(v))
      default:
        return false
    }
  }

  private cmpArray(a: unknown[]): boolean {
    const n = a.length
    if (this.ints[this.ci++] !== n) return false
    let holes = 0
    for (let i = 0; i < n; i++) {
      const x = a[i]
      if (x === undefined && !hasOwn(a, i)) {
        if (this.tags[this.ct++] !== T.HOLE) return false
        holes++
      } else if (!this.cmp(x)) return false
    }
    return objectKeys(a).length === n - holes
  }

  private cmpSet(v: Set<unknown>): boolean {
    if (this.ints[this.ci++] !== setSize.call(v)) return false
    for (const x of setValues.call(v)) if (!this.cmp(x)) return false
    return true
  }

  private cmpMap(v: Map<unknown, unknown>): boolean {
    if (this.ints[this.ci++] !== mapSize.call(v)) return false
    for (const [k, x] of mapEntries.call(v)) if (!this.cmp(k) || !this.cmp(x)) return false
    return true
  }

  /**
   * Appends to `out` the objects of `objects` (what a resent entry holds now)
   * that `slot` did not hold when recorded (-1: a new entry, none). Only
   * those can be held by another entry too: an object recorded in one slot
   * was in no other (the snapshot's walk checks that), and a kept entry holds
   * exactly what it held then.
   */
  foreign(slot: number, objects: readonly object[], out: object[]): void {
    if (slot < 0 || this.volatile_[slot] === 1) {
      for (const o of objects) out.push(o)
      return
    }
    const from = this.objAt[slot]!
    const to = this.objAt[slot + 1]!
    const objs = this.objs
    if (to - from <= 16) {
      next: for (const o of objects) {
        for (let i = from; i < to; i++) if (objs[i] === o) continue next
        out.push(o)
      }
      return
    }
    const own = new Set(objs.slice(from, to))
    for (const o of objects) if (!own.has(o)) out.push(o)
  }

  /**
   * Whether any object the unchanged slots hold (those with `changed[slot]`
   * 0 among the first `count`) is one of `objects`. Unchanged slots hold
   * exactly the objects they held when recorded, so this scans what was
   * recorded. A few objects are compared by pointer (no object is read); more
   * go through a Set.
   */
  holdsAny(objects: readonly object[], changed: Uint8Array, count: number): boolean {
    if (objects.length === 0) return false
    const objs = this.objs
    if (objects.length <= 4) {
      const a = objects[0]
      const b = objects[1] ?? a
      const c = objects[2] ?? a
      const d = objects[3] ?? a
      for (let s = 0; s < count; s++) {
        if (changed[s] === 1) continue
        const end = this.objAt[s + 1]!
        for (let i = this.objAt[s]!; i < end; i++) {
          const o = objs[i]
          if (o === a || o === b || o === c || o === d) return true
        }
      }
      return false
    }
    const set = new Set(objects)
    for (let s = 0; s < count; s++) {
      if (changed[s] === 1) continue
      const end = this.objAt[s + 1]!
      for (let i = this.objAt[s]!; i < end; i++) if (set.has(objs[i]!)) return true
    }
    return false
  }
}

/**
 * Appends every object reachable from `value` (as v8 would walk it) to `out`.
 * For a value the caller's walk found free of cycles and sharing; inside a
 * value the shadow does not handle, objects met again are skipped.
 */
export function objectsOf(value: unknown, out: object[], visited?: Set<object>): void {
  if (typeof value !== 'object' || value === null) return
  if (visited !== undefined) {
    if (visited.has(value)) return
    visited.add(value)
  }
  out.push(value)
  const p = getProto(value) as object | null
  let kind = kindOf(value, p)
  if (kind >= T.ARR_OF) kind -= OF_OFFSET
  switch (kind) {
    case T.OBJ: {
      const o = value as Record<string, unknown>
      for (const k in o) if (hop.call(o, k)) objectsOf(o[k], out, visited)
      return
    }
    case T.ARR: {
      const a = value as unknown[]
      for (let i = 0; i < a.length; i++) objectsOf(a[i], out, visited)
      return
    }
    case T.DATE:
      return
    case T.SET:
      for (const x of setValues.call(value as Set<unknown>)) objectsOf(x, out, visited)
      return
    case T.MAP:
      for (const [k, x] of mapEntries.call(value as Map<unknown, unknown>)) {
        objectsOf(k, out, visited)
        objectsOf(x, out, visited)
      }
      return
    default: {
      // Not handled: a typed array, Buffer or DataView holds bytes (its
      // indices are not objects); others' own keys may hold objects (and
      // cycles the caller's walk did not look into), and an Error's cause does.
      if (ArrayBuffer.isView(value)) return
      const seen = visited ?? new Set<object>([value])
      if (value instanceof Error && hasOwn(value, 'cause')) objectsOf(value.cause, out, seen)
      for (const k of objectKeys(value)) objectsOf((value as Record<string, unknown>)[k], out, seen)
    }
  }
}
