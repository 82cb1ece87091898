// The validation walk: finds the first value v8.serialize would refuse or would
// silently mangle (functions, symbols, class instances lose their prototype), and
// notices shared references between chunks of one root.
//
// Path syntax of the reported value (DSU_ERR_UNSERIALIZABLE '<path>: <kind>'):
//   rootName              the root itself
//   .field                object key that is an identifier (/^[A-Za-z_$][\w$]*$/)
//   ["odd key"]           any other object key, as a JSON string
//   [3]                   array index
//   .get("a") / .get(7)   Map value; string keys JSON-stringified, other primitives
//                         as written in JS (7, true, null, undefined, 12n)
//   .get(<object key #i>) Map value whose key is an object; i = entry position
//   .keys()[i]            the Map key itself at entry position i
//   .values()[i]          Set element at position i
//   .cause                the cause of an Error
// e.g. `counters.get("a").timer: function`, `sessions.keys()[2]: function`.
//
// The walk builds no path strings while it runs (it is on the critical path of
// the upgrade pause): a failure returns a Failure, and each level on the way
// back out prepends its segment.

import { isMap, isSet } from 'node:util/types'
import { DsuError } from '../errors.js'
import { classTagOf, NULL_PROTO_TAG, typeOf, typeTag, type TypeCodec } from './registry.js'

export class Failure {
  readonly segments: string[] = [] // innermost first; reversed when formatted
  constructor(readonly kind: string) {}
  at(segment: string): Failure {
    this.segments.push(segment)
    return this
  }
  toError(rootName: string): DsuError {
    return new DsuError('DSU_ERR_UNSERIALIZABLE', `${rootName}${this.segments.reverse().join('')}: ${this.kind}`)
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

export const propSegment = (key: string): string => (IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)
export const indexSegment = (i: number): string => `[${i}]`
export const setSegment = (i: number): string => `.values()[${i}]`
export const mapKeySegment = (i: number): string => `.keys()[${i}]`
export function mapValueSegment(key: unknown, i: number): string {
  switch (typeof key) {
    case 'string':
      return `.get(${JSON.stringify(key)})`
    case 'bigint':
      return `.get(${key}n)`
    case 'number':
    case 'boolean':
    case 'undefined':
      return `.get(${String(key)})`
    default:
      return key === null ? '.get(null)' : `.get(<object key #${i}>)`
  }
}

// Built-ins v8.serialize copies faithfully and that hold no further references.
const mapEntries = Map.prototype.entries
const setValues = Set.prototype.values
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object
const LEAF_PROTOS = new Set<unknown>([
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Buffer.prototype,
  Number.prototype,
  String.prototype,
  Boolean.prototype,
  BigInt.prototype,
  ...[
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  ].map((c) => c.prototype),
])
const ERROR_PROTOS = new Set<unknown>(
  [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].map((c) => c.prototype),
)

function refusedKind(proto: object): string {
  if (proto === WeakMap.prototype) return 'WeakMap'
  if (proto === WeakSet.prototype) return 'WeakSet'
  if (proto === Promise.prototype) return 'Promise'
  if (proto === typedArrayProto) return 'class instance TypedArray'
  let name: unknown
  try {
    name = (proto as { constructor?: { name?: unknown } }).constructor?.name
  } catch {
    // A throwing `constructor` getter still must not hide the real problem.
  }
  const shown = typeof name === 'string' && name !== '' ? name : 'anonymous'
  return `class instance ${shown} (register it: registerClass(${shown}) for your own class, registerType(name, codec) for a library's)`
}

/** Registered values met by one walk of one payload, for the TYPES frame. */
export interface Marks {
  /**
   * Quadruples of small integers: position of the object in the walk's order
   * over the whole payload; the payload list element it is in (-1 for a ROOT
   * payload) and its position within that element; its tag's index in `tags`.
   * Numbers only, so the walk pushes small integers and no strings per instance.
   */
  readonly refs: number[]
  /** Tags ("c:Account", "t:lru") by index; may list tags only other payloads of the same walk hold. */
  readonly tags: readonly string[]
  /** Values of registered types → what travels in their place ([data]). */
  readonly subs: Map<object, unknown[]>
  /** Some object was met twice (shared or cyclic). */
  readonly shared: boolean
}

/** The tags of the registered values in `marks`, each once. */
export function tagsOf(marks: Marks | undefined): Set<string> {
  const tags = new Set<string>()
  if (marks) for (let i = 3; i < marks.refs.length; i += 4) tags.add(marks.tags[marks.refs[i]!]!)
  return tags
}

export interface WalkerOptions {
  /** Call registered types' serialize (false when only the names are wanted, e.g. for a manifest). */
  serialize?: boolean
  /**
   * Stop (throw WALK_COMPLETE) once this many distinct registered classes
   * and types were met: a manifest that has found every registered name
   * has nothing more to learn from the rest of the root.
   */
  stopAfter?: number
}

/** Thrown by a walker whose `stopAfter` was reached; its marks so far stay readable. */
export const WALK_COMPLETE: unique symbol = Symbol('dsu walk complete')

export class Walker {
  // Object -> stamp of the chunk that first reached it. A hit with another stamp
  // is a reference shared across chunks, which chunked encoding cannot keep.
  private readonly seen = new Map<object, number>()
  stamp = 0
  crossed = false
  // Registered values of the current payload; positions count the objects
  // this walk met first since `base` (the decoder counts the same way).
  private refs: number[] = []
  private subs = new Map<object, unknown[]>()
  private base = 0
  // The payload list element being walked (CHUNK and PATCH payloads), and where its objects start.
  private element = -1
  private elementStart = 0
  // An object met twice in this payload: without one, the decoder needs no identity map.
  private shared = false
  /** True once any object was met twice (across payloads): entry-wise pre-copy cannot keep that. */
  anyShared = false
  /** True once any registered value was met (across payloads). */
  marked = false
  // Tags met by this walk, by index (the marks name tags by these indexes).
  private readonly tagList: string[] = []
  private readonly tagIds = new Map<string, number>()
  private lastProto: object | undefined = undefined
  private lastTag = 0
  private lastPlain = true
  private readonly serializeTypes: boolean
  private readonly stopAfter: number
  private registeredMet = 0
  private complete = false

  constructor(options: WalkerOptions = {}) {
    this.serializeTypes = options.serialize ?? true
    this.stopAfter = options.stopAfter ?? Infinity
  }

  /** The registered values of the payload walked since the last call; starts the next payload. */
  takeMarks(): Marks | undefined {
    const marks = this.refs.length === 0 ? undefined : { refs: this.refs, tags: this.tagList, subs: this.subs, shared: this.shared }
    if (marks) {
      this.refs = []
      this.subs = new Map()
    }
    this.shared = false
    this.element = -1
    this.base = this.seen.size
    return marks
  }

  /** The next values walked are element `e` of the payload's list (for positions relative to it). */
  elementAt(e: number): void {
    this.element = e
    this.elementStart = this.seen.size
  }

  /** Marks an object (the chunked root itself) as belonging to no chunk. */
  claim(value: object): void {
    this.seen.set(value, -1)
    this.base = this.seen.size
  }

  walk(value: unknown): Failure | undefined {
    if (typeof value !== 'object') {
      if (typeof value === 'function') return new Failure('function')
      if (typeof value === 'symbol') return new Failure('symbol')
      return undefined
    }
    if (value === null) return undefined
    const stamp = this.seen.get(value)
    if (stamp !== undefined) {
      if (stamp !== this.stamp) this.crossed = true
      this.shared = true
      this.anyShared = true
      return undefined
    }
    this.seen.set(value, this.stamp)
    const proto = Object.getPrototypeOf(value) as object | null
    if (proto === Object.prototype) return this.object(value as Record<string, unknown>)
    // The class of the last instance met: records of one class come in runs.
    if (proto === this.lastProto) {
      this.mark(this.lastTag)
      return this.lastPlain ? this.object(value as Record<string, unknown>) : this.instance(value)
    }
    if (proto === Array.prototype) return this.array(value as unknown[])
    if (proto === null) {
      // v8 would deliver it with Object.prototype: marked, the receiver sets null again.
      this.mark(this.tagId(NULL_PROTO_TAG))
      return this.object(value as Record<string, unknown>)
    }
    if (LEAF_PROTOS.has(proto)) return undefined
    if (proto === Map.prototype) return this.map(value as Map<unknown, unknown>)
    if (proto === Set.prototype) return this.set(value as Set<unknown>)
    if (ERROR_PROTOS.has(proto)) {
      // v8 copies name, message, stack and cause; only cause can hold more data.
      return Object.hasOwn(value, 'cause') ? this.walk((value as Error).cause)?.at('.cause') : undefined
    }
    // Only values plain data does not cover reach the registry: the hot path above stays as it was.
    const tag = classTagOf(proto)
    if (tag !== undefined) {
      this.lastProto = proto
      this.lastTag = this.tagId(tag)
      // Not an Array, Map or Set underneath: its fields are walked as a plain object's.
      this.lastPlain = !Array.isArray(value) && !isMap(value) && !isSet(value)
      this.mark(this.lastTag)
      return this.instance(value)
    }
    let type: ReturnType<typeof typeOf>
    try {
      type = typeOf(value)
    } catch (error) {
      return new Failure(`a registered type's isApplicable threw: ${error instanceof Error ? error.message : String(error)}`)
    }
    if (type !== undefined) return this.custom(value, type[0], type[1])
    return new Failure(refusedKind(proto))
  }

  private tagId(tag: string): number {
    let id = this.tagIds.get(tag)
    if (id === undefined) {
      id = this.tagList.length
      this.tagIds.set(tag, id)
      this.tagList.push(tag)
      if (tag !== NULL_PROTO_TAG && ++this.registeredMet >= this.stopAfter) this.complete = true
    }
    return id
  }

  // The object just added to `seen` is a registered value with tag index `tag`.
  private mark(tag: number): void {
    const at = this.seen.size - 1
    this.refs.push(at - this.base, this.element, at - this.elementStart, tag)
    this.marked = true
    if (this.complete) throw WALK_COMPLETE
  }

  // v8 copies an instance as what it is underneath: an array, Map, Set or plain object.
  private instance(value: object): Failure | undefined {
    if (Array.isArray(value)) return this.array(value)
    // What it is, not what its prototype chain says: v8 writes a real Map or Set as one.
    if (isMap(value)) return this.map(value)
    if (isSet(value)) return this.set(value)
    return this.object(value as Record<string, unknown>)
  }

  private custom(value: object, name: string, codec: TypeCodec): Failure | undefined {
    this.mark(this.tagId(typeTag(name)))
    if (!this.serializeTypes) return undefined
    let data: unknown
    try {
      data = codec.serialize(value)
    } catch (error) {
      return new Failure(`registerType("${name}") serialize threw: ${error instanceof Error ? error.message : String(error)}`)
    }
    this.subs.set(value, [data])
    // Its data is walked in place of the value, in the same count: registered
    // values inside it (instances held by a cache) travel too.
    const inner = this.walk(data)
    if (inner) return new Failure(`what registerType("${name}") serialize returned holds at <data>${inner.segments.reverse().join('')}: ${inner.kind}`)
    return undefined
  }

  // One entry of each collection kind; also used entry by entry when chunking.
  objectEntry(key: string, value: unknown): Failure | undefined {
    return this.walk(value)?.at(propSegment(key))
  }
  arrayEntry(i: number, value: unknown): Failure | undefined {
    return this.walk(value)?.at(indexSegment(i))
  }
  setEntry(i: number, value: unknown): Failure | undefined {
    return this.walk(value)?.at(setSegment(i))
  }
  mapEntry(i: number, key: unknown, value: unknown): Failure | undefined {
    return this.walk(key)?.at(mapKeySegment(i)) ?? this.walk(value)?.at(mapValueSegment(key, i))
  }
  /** A Map entry of a chunk: its key and value are elements e and e + 1 of the list. */
  chunkMapEntry(e: number, i: number, key: unknown, value: unknown): Failure | undefined {
    this.elementAt(e)
    const f = this.walk(key)?.at(mapKeySegment(i))
    if (f) return f
    this.elementAt(e + 1)
    return this.walk(value)?.at(mapValueSegment(key, i))
  }

  private object(o: Record<string, unknown>): Failure | undefined {
    // Values only: keys are needed just to name a failure.
    const values = Object.values(o)
    for (let i = 0; i < values.length; i++) {
      const f = this.walk(values[i])
      if (f) return f.at(propSegment(Object.keys(o)[i]!))
    }
    return undefined
  }

  private array(a: unknown[]): Failure | undefined {
    for (let i = 0; i < a.length; i++) {
      const f = this.arrayEntry(i, a[i])
      if (f) return f
    }
    return undefined
  }

  private map(m: Map<unknown, unknown>): Failure | undefined {
    let i = 0
    // Map.prototype's own iterator: a subclass's (or a foreign prototype's) may differ from what v8 writes.
    for (const [key, value] of mapEntries.call(m)) {
      const f = this.mapEntry(i++, key, value)
      if (f) return f
    }
    return undefined
  }

  private set(s: Set<unknown>): Failure | undefined {
    let i = 0
    for (const value of setValues.call(s)) {
      const f = this.setEntry(i++, value)
      if (f) return f
    }
    return undefined
  }
}

export function tooDeep(rootName: string, cause: unknown): DsuError {
  return new DsuError('DSU_ERR_UNSERIALIZABLE', `${rootName}: nested too deeply to serialize`, { cause })
}
