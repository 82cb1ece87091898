// Deep comparison for round trips: the first place two states differ, in the
// state validator's path syntax. Maps compare by key, Sets and arrays by
// position, Dates by time, class instances by prototype as well as fields.
// Paths are assembled only on the way out of a difference.

import { kindOf, preview } from './kinds.js'
import { indexSegment, mapValueSegment, propSegment, RuleFailure, setSegment } from './paths.js'

export interface Difference {
  /** Where the values differ, e.g. customers.get("c7").balance */
  path: string
  /** What differs, e.g. `12.5 vs 12` */
  detail: string
}

export function firstDifference(name: string, a: unknown, b: unknown): Difference | null {
  const failure = compare(a, b, new Map())
  return failure ? { path: failure.path(name), detail: failure.detail } : null
}

function compare(a: unknown, b: unknown, seen: Map<object, object>): RuleFailure | undefined {
  if (Object.is(a, b)) return undefined
  const differ = () => new RuleFailure(`${preview(a)} vs ${preview(b)}`)
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return differ()
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return new RuleFailure(`${kindOf(a)} vs ${kindOf(b)}`)
  if (seen.get(a) === b) return undefined // cycles and shared references
  seen.set(a, b)
  if (a instanceof Date) return a.getTime() === (b as Date).getTime() || (Number.isNaN(a.getTime()) && Number.isNaN((b as Date).getTime())) ? undefined : differ()
  if (a instanceof RegExp) return String(a) === String(b) ? undefined : differ()
  if (ArrayBuffer.isView(a)) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from((b as ArrayBufferView).buffer, (b as ArrayBufferView).byteOffset, (b as ArrayBufferView).byteLength)) ? undefined : differ()
  if (a instanceof ArrayBuffer) return Buffer.from(a).equals(Buffer.from(b as ArrayBuffer)) ? undefined : differ()
  if (a instanceof Map) return compareMaps(a, b as Map<unknown, unknown>, seen)
  if (a instanceof Set) return compareSets(a, b as Set<unknown>, seen)
  if (Array.isArray(a)) {
    const other = b as unknown[]
    if (a.length !== other.length) return new RuleFailure(`length ${a.length} vs ${other.length}`)
    for (let i = 0; i < a.length; i++) {
      const f = compare(a[i], other[i], seen)
      if (f) return f.at(indexSegment(i))
    }
    return undefined
  }
  return compareRecords(a as Record<string, unknown>, b as Record<string, unknown>, seen)
}

function compareMaps(a: Map<unknown, unknown>, b: Map<unknown, unknown>, seen: Map<object, object>): RuleFailure | undefined {
  const bEntries = [...b]
  let i = 0
  for (const [key, value] of a) {
    // Object keys cannot be looked up across copies: match them by position.
    const primitive = typeof key !== 'object' || key === null
    if (primitive && !b.has(key)) return new RuleFailure('missing after the round trip').at(mapValueSegment(key, i))
    const f = primitive ? compare(value, b.get(key), seen) : compare(key, bEntries[i]?.[0], seen) ?? compare(value, bEntries[i]?.[1], seen)
    if (f) return f.at(mapValueSegment(key, i))
    i++
  }
  if (a.size !== b.size) {
    const extra = bEntries.findIndex(([key]) => !a.has(key))
    return new RuleFailure('added by the round trip').at(mapValueSegment(bEntries[extra]?.[0], extra))
  }
  return undefined
}

function compareSets(a: Set<unknown>, b: Set<unknown>, seen: Map<object, object>): RuleFailure | undefined {
  if (a.size !== b.size) return new RuleFailure(`size ${a.size} vs ${b.size}`)
  const other = [...b]
  let i = 0
  for (const value of a) {
    if (typeof value !== 'object' || value === null) {
      if (!b.has(value)) return new RuleFailure(`${preview(value)} missing after the round trip`).at(setSegment(i))
    } else {
      const f = compare(value, other[i], seen)
      if (f) return f.at(setSegment(i))
    }
    i++
  }
  return undefined
}

function compareRecords(a: Record<string, unknown>, b: Record<string, unknown>, seen: Map<object, object>): RuleFailure | undefined {
  for (const key of Object.keys(a)) {
    if (!Object.hasOwn(b, key)) return new RuleFailure('missing after the round trip').at(propSegment(key))
    const f = compare(a[key], b[key], seen)
    if (f) return f.at(propSegment(key))
  }
  for (const key of Object.keys(b)) if (!Object.hasOwn(a, key)) return new RuleFailure('added by the round trip').at(propSegment(key))
  return undefined
}
