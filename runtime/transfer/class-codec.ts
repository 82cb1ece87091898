// Registered classes and types on the wire, next to v8's own encoding.
//
// v8 already copies a class instance as its own enumerable fields (it only
// loses the prototype), so instances need no copy: the validation walk, which
// runs anyway, notes the position of each one in its walk order, and a TYPES
// frame sent right before the payload lists those positions with their tags.
// The receiver walks the decoded payload in the same order and gives each
// listed object its new prototype. Plain data sends no TYPES frame, and its
// decoder does no extra walk.
//
// A value of a registered type travels as `[data]` (serialize's result in a
// one-element array, so it takes the value's place in the walk order whatever
// data is; data is walked right after it, so registered values inside it
// travel too): only then is the payload copied, with those values replaced.
//
// Walk order (both sides): an object is counted when first met; then, by what
// it is underneath, its own enumerable values (Object.keys order), array
// elements, Map key then value, Set values, an Error's cause. A registered
// type's value is counted, then what its serialize returned is walked.

import v8 from 'node:v8'
import { isMap, isSet } from 'node:util/types'
import { DsuError } from '../errors.js'
import { classNameOf, type Resolver, type Revival } from './registry.js'
import type { Marks } from './validate.js'

const mapEntries = Map.prototype.entries
const mapSet = Map.prototype.set
const mapClear = Map.prototype.clear
const setValues = Set.prototype.values
const setAdd = Set.prototype.add
const setClear = Set.prototype.clear

export interface TypeTable {
  tags: string[]
  /**
   * Per registered value: the payload list element it is in (-1: positions
   * count over the whole payload), its position, its index into tags.
   */
  elements: Int32Array
  positions: Uint32Array
  ids: Uint32Array
}

/**
 * The body of a TYPES frame for the marks of one payload:
 * v8 of [tags, element deltas or null, position deltas or positions, tag ids or null].
 *
 * Positions count within the element of a CHUNK or PATCH list when no object
 * is met twice in the payload (then an element's walk can stop at its last
 * registered value, and unmarked elements are not walked at all); otherwise,
 * and in ROOT payloads, over the whole payload. Numbers take the smallest
 * typed array that holds them: a Map of records costs a few bytes per instance.
 */
export function encodeTable(marks: Marks): Buffer {
  const refs = marks.refs
  // The walk's tag indexes → this payload's: only tags it holds travel.
  const local = new Int32Array(marks.tags.length).fill(-1)
  const tags: string[] = []
  const n = refs.length / 4
  const byElement = !marks.shared && n > 0 && refs[1]! >= 0
  const elements = new Uint32Array(n)
  const positions = new Uint32Array(n)
  const ids = new Uint32Array(n)
  let lastElement = 0
  let lastPosition = 0
  for (let i = 0; i < n; i++) {
    const walkId = refs[4 * i + 3]!
    let id = local[walkId]!
    if (id < 0) {
      id = local[walkId] = tags.length
      tags.push(marks.tags[walkId]!)
    }
    ids[i] = id
    if (byElement) {
      const element = refs[4 * i + 1]!
      elements[i] = element - lastElement
      lastElement = element
      positions[i] = refs[4 * i + 2]!
    } else {
      const global = refs[4 * i]!
      positions[i] = global - lastPosition
      lastPosition = global
    }
  }
  return v8.serialize([tags, byElement ? narrow(elements) : null, narrow(positions), tags.length === 1 ? null : narrow(ids)])
}

function narrow(values: Uint32Array): Uint8Array | Uint16Array | Uint32Array {
  let max = 0
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!
  return max < 0x100 ? Uint8Array.from(values) : max < 0x10000 ? Uint16Array.from(values) : values
}

const isIndexArray = (v: unknown): v is Uint8Array | Uint16Array | Uint32Array =>
  v instanceof Uint8Array || v instanceof Uint16Array || v instanceof Uint32Array

export function decodeTable(body: Buffer): TypeTable {
  const value = v8.deserialize(body) as unknown
  if (!Array.isArray(value) || value.length !== 4) throw new Error('types table is not [tags, elements, positions, ids]')
  const [tags, elementDeltas, positionData, idData] = value as [unknown, unknown, unknown, unknown]
  if (!Array.isArray(tags) || tags.length === 0 || !tags.every((tag) => typeof tag === 'string' && /^[ctn]:./.test(tag))) throw new Error('bad tags')
  if (!isIndexArray(positionData)) throw new Error('bad positions')
  const n = positionData.length
  if (elementDeltas !== null && (!isIndexArray(elementDeltas) || elementDeltas.length !== n)) throw new Error('bad elements')
  if (idData !== null && (!isIndexArray(idData) || idData.length !== n)) throw new Error('bad tag ids')
  const elements = new Int32Array(n)
  const positions = new Uint32Array(n)
  const ids = new Uint32Array(n)
  let element = 0
  let position = 0
  for (let i = 0; i < n; i++) {
    const id = idData === null ? 0 : idData[i]!
    if (id >= tags.length) throw new Error('bad tag ids')
    ids[i] = id
    if (elementDeltas !== null) {
      element += elementDeltas[i]!
      elements[i] = element
      positions[i] = positionData[i]!
      if (i > 0 && elementDeltas[i] === 0 && positions[i]! <= positions[i - 1]!) throw new Error('bad positions')
    } else {
      position += positionData[i]!
      if (i > 0 && positionData[i] === 0) throw new Error('bad positions')
      elements[i] = -1
      positions[i] = position
    }
  }
  return { tags: tags as string[], elements, positions, ids }
}

// The payload to serialize: `value` with registered types' values replaced by
// their [data]. Containers on the way are copied (identity kept through a memo);
// instances become plain objects, as v8 would send them anyway.
export function substitute(value: unknown, subs: ReadonlyMap<object, unknown[]>): unknown {
  const memo = new Map<object, unknown>()
  const copy = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v
    const done = memo.get(v)
    if (done !== undefined) return done
    const sub = subs.get(v)
    if (sub !== undefined) {
      const wrapper: unknown[] = [undefined]
      memo.set(v, wrapper)
      wrapper[0] = copy(sub[0])
      return wrapper
    }
    const proto = Object.getPrototypeOf(v) as object | null
    if (Array.isArray(v)) {
      const out: unknown[] = new Array(v.length)
      memo.set(v, out)
      for (let i = 0; i < v.length; i++) out[i] = copy(v[i])
      return out
    }
    // What it is underneath, iterated with Map's and Set's own methods (as v8 does).
    if (isMap(v)) {
      const out = new Map()
      memo.set(v, out)
      for (const [k, x] of mapEntries.call(v)) out.set(copy(k), copy(x))
      return out
    }
    if (isSet(v)) {
      const out = new Set()
      memo.set(v, out)
      for (const x of setValues.call(v)) out.add(copy(x))
      return out
    }
    // Leaves and errors go as they are; only plain objects and registered instances are entered.
    if (proto !== Object.prototype && proto !== null && classNameOf(proto) === undefined) return v
    const out: Record<string, unknown> = {}
    memo.set(v, out)
    for (const key of Object.keys(v)) {
      const x = copy((v as Record<string, unknown>)[key])
      if (key === '__proto__') Object.defineProperty(out, key, { value: x, enumerable: true, writable: true, configurable: true })
      else out[key] = x
    }
    return out
  }
  return copy(value)
}

/**
 * Revives the registered values of one decoded payload in place. `elements`:
 * the payload is a list of entries (CHUNK, PATCH) whose elements are walked,
 * the list itself not counted. Returns the payload (a ROOT whose value was a
 * registered type's comes back replaced).
 */
export function revive(payload: unknown, table: TypeTable, resolve: Resolver, elements: boolean): unknown {
  const { tags, positions, ids } = table
  const revivals = tags.map((tag) => {
    const revival = resolve(tag)
    if (revival === undefined) throw missing(tag)
    return revival
  })
  const n = positions.length
  if (n > 0 && table.elements[0]! >= 0) {
    // Positions within elements; no object is met twice: walk only the marked
    // elements, each up to its last registered value.
    if (!elements || !Array.isArray(payload)) return payload
    const list = payload as unknown[]
    const elementOf = table.elements
    // Per tag index: the prototype its instances get (undefined: a registered type).
    const protos = revivals.map((revival) => ('proto' in revival ? revival.proto : undefined))
    const builder = new InstanceBuilder()
    for (let i = 0; i < n; ) {
      const e = elementOf[i]!
      if (e >= list.length) throw new Error('types table points past the payload')
      // The common case, a record that is itself the element's only registered
      // value (an instance as a Map value): referenced by nothing else in the
      // payload, so it may be replaced by a copy; no walk.
      if (positions[i] === 0 && (i + 1 === n || elementOf[i + 1] !== e)) {
        const proto = protos[ids[i]!]
        const v = list[e]
        if (proto !== undefined && typeof v === 'object' && v !== null) {
          list[e] = builder.instance(v, proto)
          i++
          continue
        }
      }
      let end = i
      while (end < n && elementOf[end] === e) end++
      list[e] = new Reviver(revivals, tags, positions, ids, i, end, false).visit(list[e])
      i = end
    }
    return list
  }
  // Positions over the whole payload: with types or shared objects, walk it all with an identity map.
  const stopEarly = tags.every((tag) => !tag.startsWith('t:'))
  const reviver = new Reviver(revivals, tags, positions, ids, 0, n, true, stopEarly)
  if (!elements) return reviver.visit(payload)
  if (!Array.isArray(payload)) return payload // the frame's own check names it
  const list = payload as unknown[]
  for (let i = 0; i < list.length; i++) {
    const x = list[i]
    const r = reviver.visit(x)
    if (r !== x) list[i] = r
  }
  return list
}

// Building instances without a setPrototypeOf each.
//
// Object.setPrototypeOf is a call into the VM per object (~200 ns; 20-40 ms
// for 100k records). For a plain decoded object that nothing else references,
// a per-class, per-field-list constructor whose `prototype` is the class's
// (`function (o) { "use strict"; this.id = o.id; this.name = o.name … }`) makes
// the same instance: that prototype, the same own enumerable data fields in
// the same order, and the class's constructor does not run. It is several
// times faster, and the instances get their fields in-object. A for-in over
// the decoded object (no allocation) checks that its fields are exactly the
// template's before it is used. Anything else (an Array, Map or Set
// underneath, a field the prototype chain also has, a null prototype, too many
// fields, no code generation) gets its prototype set in place as before.
interface Template {
  readonly proto: object
  readonly keys: readonly string[]
  /** Undefined: these fields cannot be built this way; set the prototype in place. */
  readonly make: (new (o: object) => object) | undefined
}
const MAX_TEMPLATE_FIELDS = 64
const MAX_TEMPLATES_PER_CLASS = 8
// Per prototype of the new version's classes: its templates (entries are
// never removed; a class's prototype lives as long as its module).
const templatesByProto = new WeakMap<object, Template[]>()
let codegen = true

function fits(o: object, keys: readonly string[]): boolean {
  let i = 0
  // for-in, not Object.keys: no array per instance. An inherited enumerable
  // key (added to Object.prototype) fails the check too, which is safe.
  for (const key in o) {
    if (key !== keys[i]) return false
    i++
  }
  return i === keys.length
}

function makeTemplate(proto: object, keys: string[]): Template {
  const none = { proto, keys, make: undefined }
  if (!codegen || keys.length === 0 || keys.length > MAX_TEMPLATE_FIELDS) return none
  // A field the class (or Object.prototype) also has, __proto__ included,
  // would run a setter or hit a read-only property when assigned.
  for (const key of keys) if (key in proto) return none
  let make: new (o: object) => object
  try {
    // Keys go in as JSON string literals.
    make = new Function('o', `"use strict";\n${keys.map((k) => `this[${JSON.stringify(k)}] = o[${JSON.stringify(k)}]`).join('\n')}`) as new (o: object) => object
  } catch {
    codegen = false // --disallow-code-generation-from-strings
    return none
  }
  make.prototype = proto
  return { proto, keys, make }
}

export class InstanceBuilder {
  private last: Template | undefined

  /** `v` as an instance of `proto`'s class: itself with that prototype, or an equal copy. */
  instance(v: object, proto: object | null): object {
    const own = Object.getPrototypeOf(v) as object | null
    if (own === proto) return v // dsu check's plain view: nothing to do
    if (proto !== null && own === Object.prototype) {
      let t = this.last
      if (t === undefined || t.proto !== proto || !fits(v, t.keys)) this.last = t = this.find(v, proto)
      if (t?.make !== undefined) return new t.make(v)
    }
    Object.setPrototypeOf(v, proto)
    return v
  }

  private find(v: object, proto: object): Template | undefined {
    const keys = Object.keys(v)
    let list = templatesByProto.get(proto)
    if (list === undefined) templatesByProto.set(proto, (list = []))
    for (const t of list) if (t.keys.length === keys.length && t.keys.every((k, i) => k === keys[i])) return t
    if (list.length >= MAX_TEMPLATES_PER_CLASS) return undefined
    const t = makeTemplate(proto, keys)
    list.push(t)
    return t
  }
}

// One walk in the order the encoder counted, applying marks next..end.
class Reviver {
  private readonly seen: Map<object, unknown> | undefined
  private count = 0
  constructor(
    private readonly revivals: Revival[],
    private readonly tags: string[],
    private readonly positions: Uint32Array,
    private readonly ids: Uint32Array,
    private next: number,
    private readonly end: number,
    identity: boolean,
    private readonly stopEarly = true,
  ) {
    this.seen = identity ? new Map() : undefined
  }

  visit(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v
    const seen = this.seen
    if (seen !== undefined) {
      const known = seen.get(v)
      if (known !== undefined) return known
    }
    if (this.stopEarly && this.next >= this.end) return v
    const at = this.count++
    const proto = Object.getPrototypeOf(v) as object | null
    if (this.next < this.end && this.positions[this.next] === at) {
      const id = this.ids[this.next]!
      const revival = this.revivals[id]!
      this.next++
      if ('codec' in revival) {
        seen?.set(v, v)
        const data = this.visit((v as unknown[])[0]) // registered values inside come back first
        let out: unknown
        try {
          out = revival.codec.deserialize(data)
        } catch (error) {
          throw new DsuError('DSU_ERR_TRANSFORM_FAILED', `registerType("${this.tags[id]!.slice(2)}") deserialize threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
        }
        seen?.set(v, out)
        return out
      }
      Object.setPrototypeOf(v, revival.proto)
    }
    seen?.set(v, v)
    if (this.stopEarly && this.next >= this.end) return v
    if (proto === Object.prototype || proto === null) {
      const o = v as Record<string, unknown>
      for (const key of Object.keys(o)) {
        const x = o[key]
        const r = this.visit(x)
        if (r !== x) o[key] = r
      }
    } else if (proto === Array.prototype) {
      const a = v as unknown[]
      for (let i = 0; i < a.length; i++) {
        const x = a[i]
        const r = this.visit(x)
        if (r !== x) a[i] = r
      }
    } else if (proto === Map.prototype) {
      // Map's own methods: its prototype may just have been set to a class that is no Map.
      const m = v as Map<unknown, unknown>
      let rekeyed: Map<unknown, unknown> | undefined
      for (const [k, x] of mapEntries.call(m)) {
        const k2 = this.visit(k)
        if (k2 !== k) (rekeyed ??= new Map()).set(k, k2)
        const r = this.visit(x)
        if (r !== x) mapSet.call(m, k, r)
      }
      if (rekeyed) {
        // A key that was a registered type's value: rebuild to keep the order.
        const entries = [...mapEntries.call(m)].map(([k, x]) => [rekeyed.has(k) ? rekeyed.get(k) : k, x] as const)
        mapClear.call(m)
        for (const [k, x] of entries) mapSet.call(m, k, x)
      }
    } else if (proto === Set.prototype) {
      const s = v as Set<unknown>
      let changed = false
      const values: unknown[] = []
      for (const x of setValues.call(s)) {
        const r = this.visit(x)
        if (r !== x) changed = true
        values.push(r)
      }
      if (changed) {
        setClear.call(s)
        for (const x of values) setAdd.call(s, x)
      }
    } else if (v instanceof Error && Object.hasOwn(v, 'cause')) {
      const r = this.visit(v.cause)
      if (r !== v.cause) v.cause = r
    }
    return v
  }
}

export function missing(tag: string): DsuError {
  const name = tag.slice(2)
  return tag.startsWith('c:')
    ? new DsuError('DSU_ERR_CLASS_MISSING', `the state holds instances of class ${name}, which this version does not register; registerClass(${name}) (or map the old name with renameClass('${name}', 'NewName') in the transformer)`)
    : new DsuError('DSU_ERR_TYPE_MISSING', `the state holds values of type "${name}", which this version has no codec for; registerType('${name}', { isApplicable, serialize, deserialize })`)
}
