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
import { DsuError } from '../errors.js'
import { classNameOf, type Resolver } from './registry.js'
import type { Marks } from './validate.js'

export interface TypeTable {
  tags: string[]
  /** Pairs: position, index into tags. */
  refs: Uint32Array
  /** The payload holds an object twice: the decoder must track identity. */
  shared: boolean
}

/**
 * The body of a TYPES frame for the marks of one payload:
 * v8 of [tags, position deltas, tag ids or null when there is one tag, shared].
 * Deltas and ids take the smallest typed array that holds them: a Map of
 * records costs about a byte per instance.
 */
export function encodeTable(marks: Marks): Buffer {
  const tags: string[] = []
  const index = new Map<string, number>()
  const n = marks.refs.length / 2
  const deltas = new Uint32Array(n)
  const ids = new Uint32Array(n)
  let last = 0
  let maxDelta = 0
  for (let i = 0; i < n; i++) {
    const at = marks.refs[2 * i] as number
    const tag = marks.refs[2 * i + 1] as string
    let id = index.get(tag)
    if (id === undefined) {
      id = tags.length
      index.set(tag, id)
      tags.push(tag)
    }
    const delta = at - last
    deltas[i] = delta
    if (delta > maxDelta) maxDelta = delta
    ids[i] = id
    last = at
  }
  return v8.serialize([tags, narrow(deltas, maxDelta), tags.length === 1 ? null : narrow(ids, tags.length - 1), marks.shared])
}

function narrow(values: Uint32Array, max: number): Uint8Array | Uint16Array | Uint32Array {
  return max < 0x100 ? Uint8Array.from(values) : max < 0x10000 ? Uint16Array.from(values) : values
}

const isIndexArray = (v: unknown): v is Uint8Array | Uint16Array | Uint32Array =>
  v instanceof Uint8Array || v instanceof Uint16Array || v instanceof Uint32Array

export function decodeTable(body: Buffer): TypeTable {
  const value = v8.deserialize(body) as unknown
  if (!Array.isArray(value) || value.length !== 4) throw new Error('types table is not [tags, deltas, ids, shared]')
  const [tags, deltas, ids, shared] = value as [unknown, unknown, unknown, unknown]
  if (!Array.isArray(tags) || tags.length === 0 || !tags.every((tag) => typeof tag === 'string' && /^[ct]:./.test(tag))) throw new Error('bad tags')
  if (!isIndexArray(deltas) || (ids !== null && (!isIndexArray(ids) || ids.length !== deltas.length))) throw new Error('bad positions')
  const refs = new Uint32Array(2 * deltas.length)
  let at = 0
  for (let i = 0; i < deltas.length; i++) {
    at += deltas[i]!
    const id = ids === null ? 0 : ids[i]!
    if (id >= tags.length || (i > 0 && deltas[i] === 0)) throw new Error('bad positions')
    refs[2 * i] = at
    refs[2 * i + 1] = id
  }
  return { tags: tags as string[], refs, shared: shared !== false }
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
    if (v instanceof Map) {
      const out = new Map()
      memo.set(v, out)
      for (const [k, x] of v) out.set(copy(k), copy(x))
      return out
    }
    if (v instanceof Set) {
      const out = new Set()
      memo.set(v, out)
      for (const x of v) out.add(copy(x))
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
  const { tags, refs, shared } = table
  const revivals = tags.map((tag) => {
    const revival = resolve(tag)
    if (revival === undefined) throw missing(tag)
    return revival
  })
  // With types, a value replaced early may be met again later through a shared reference: walk to the end.
  const stopEarly = tags.every((tag) => tag.startsWith('c:'))
  // Tracking identity costs a Map entry per object: only when the sender met an object twice.
  const seen = shared ? new Map<object, unknown>() : undefined
  let count = 0
  let next = 0
  const visit = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v
    if (seen !== undefined) {
      const known = seen.get(v)
      if (known !== undefined) return known
    }
    if (stopEarly && next >= refs.length) return v
    const at = count++
    const proto = Object.getPrototypeOf(v) as object | null
    if (next < refs.length && refs[next] === at) {
      const revival = revivals[refs[next + 1]!]!
      next += 2
      if ('codec' in revival) {
        const tag = tags[refs[next - 1]!]!
        seen?.set(v, v)
        const data = visit((v as unknown[])[0]) // registered values inside come back first
        let out: unknown
        try {
          out = revival.codec.deserialize(data)
        } catch (error) {
          throw new DsuError('DSU_ERR_TRANSFORM_FAILED', `registerType("${tag.slice(2)}") deserialize threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
        }
        seen?.set(v, out)
        return out
      }
      Object.setPrototypeOf(v, revival.proto)
    }
    seen?.set(v, v)
    if (proto === Object.prototype || proto === null) {
      const o = v as Record<string, unknown>
      for (const key of Object.keys(o)) {
        const x = o[key]
        const r = visit(x)
        if (r !== x) o[key] = r
      }
    } else if (proto === Array.prototype) {
      const a = v as unknown[]
      for (let i = 0; i < a.length; i++) {
        const x = a[i]
        const r = visit(x)
        if (r !== x) a[i] = r
      }
    } else if (proto === Map.prototype) {
      const m = v as Map<unknown, unknown>
      let rekeyed: Map<unknown, unknown> | undefined
      for (const [k, x] of m) {
        const k2 = visit(k)
        if (k2 !== k) (rekeyed ??= new Map()).set(k, k2)
        const r = visit(x)
        if (r !== x) m.set(k, r)
      }
      if (rekeyed) {
        // A key that was a registered type's value: rebuild to keep the order.
        const entries = [...m].map(([k, x]) => [rekeyed.has(k) ? rekeyed.get(k) : k, x] as const)
        m.clear()
        for (const [k, x] of entries) m.set(k, x)
      }
    } else if (proto === Set.prototype) {
      const s = v as Set<unknown>
      let changed = false
      const values: unknown[] = []
      for (const x of s) {
        const r = visit(x)
        if (r !== x) changed = true
        values.push(r)
      }
      if (changed) {
        s.clear()
        for (const x of values) s.add(x)
      }
    } else if (v instanceof Error && Object.hasOwn(v, 'cause')) {
      const r = visit(v.cause)
      if (r !== v.cause) v.cause = r
    }
    return v
  }
  if (!elements) return visit(payload)
  if (!Array.isArray(payload)) return payload // the frame's own check names it
  const list = payload as unknown[]
  for (let i = 0; i < list.length; i++) {
    const x = list[i]
    const r = visit(x)
    if (r !== x) list[i] = r
  }
  return list
}

export function missing(tag: string): DsuError {
  const name = tag.slice(2)
  return tag.startsWith('c:')
    ? new DsuError('DSU_ERR_CLASS_MISSING', `the state holds instances of class ${name}, which this version does not register; registerClass(${name}) (or map the old name with renameClass('${name}', 'NewName') in the transformer)`)
    : new DsuError('DSU_ERR_TYPE_MISSING', `the state holds values of type "${name}", which this version has no codec for; registerType('${name}', { isApplicable, serialize, deserialize })`)
}
