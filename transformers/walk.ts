// Compiles the steps of a rule path into nested closures, once per rule group.
//
// A Visit takes the value at one location and returns the value to keep there:
// the same value when it was changed in place (field rules), a new one when it
// was replaced (convert, revive). Only the level right above the rule's own
// operation writes back, and only when the operation may replace (`replaces`);
// every other level mutates in place, so the loops allocate nothing of their
// own and the Map loop is a plain `for…of m.values()`.
//
// Failure paths: each loop keeps only an integer index; when something throws
// it works out the key from the index and adds its path segment on the way out.

import { isRecord, kindOf } from './kinds.js'
import { indexSegment, mapValueSegment, propSegment, RuleFailure, setSegment, withSegment, type Step } from './paths.js'

export type Visit = (value: unknown) => unknown

export function compileWalk(steps: readonly Step[], operation: Visit, replaces: boolean): Visit {
  let visit = operation
  let writeBack = replaces
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!
    if (step.kind === 'json') {
      visit = jsonStep(visit)
      writeBack = true // the string is replaced: the level above writes it back
      continue
    }
    visit = step.kind === 'each' ? eachStep(visit, writeBack) : fieldStep(step.name, visit, writeBack)
    writeBack = false
  }
  return visit
}

/** A JSON string: parsed, the inner steps applied, written back as JSON. */
function jsonStep(inner: Visit): Visit {
  return (value) => {
    if (typeof value !== 'string') throw new RuleFailure(`expected a JSON string, got ${kindOf(value)}`)
    let parsed: unknown
    try {
      parsed = JSON.parse(value)
    } catch (error) {
      throw new RuleFailure(`expected a JSON string, got a string that is not JSON (${(error as Error).message})`)
    }
    return JSON.stringify(inner(parsed))
  }
}

function fieldStep(name: string, inner: Visit, writeBack: boolean): Visit {
  return (value) => {
    if (!isRecord(value)) throw new RuleFailure(`expected object, got ${kindOf(value)}`)
    const old = value[name]
    let next: unknown
    try {
      next = inner(old)
    } catch (error) {
      throw withSegment(error, propSegment(name))
    }
    if (writeBack && next !== old) value[name] = next
    return value
  }
}

function eachStep(inner: Visit, writeBack: boolean): Visit {
  const map = writeBack ? replaceMapValues : visitMapValues
  const object = writeBack ? replaceObjectValues : visitObjectValues
  return (value) => {
    if (value instanceof Map) return map(value, inner)
    if (Array.isArray(value)) return eachArray(value, inner, writeBack)
    if (value instanceof Set) return writeBack ? replaceSetValues(value, inner) : visitSetValues(value, inner)
    if (isRecord(value)) return object(value, inner)
    throw new RuleFailure(`expected Map, Set, array or object, got ${kindOf(value)}`)
  }
}

function visitMapValues(map: Map<unknown, unknown>, inner: Visit): Map<unknown, unknown> {
  let i = 0
  try {
    for (const value of map.values()) {
      inner(value)
      i++
    }
  } catch (error) {
    const key = nth(map.keys(), i)
    throw withSegment(error, mapValueSegment(key, i))
  }
  return map
}

function replaceMapValues(map: Map<unknown, unknown>, inner: Visit): Map<unknown, unknown> {
  let i = 0
  let key: unknown
  try {
    // Setting an existing key keeps its place and adds no entry, so it is safe mid-iteration.
    for (const entry of map) {
      key = entry[0]
      const old = entry[1]
      const next = inner(old)
      if (next !== old) map.set(key, next)
      i++
    }
  } catch (error) {
    throw withSegment(error, mapValueSegment(key, i))
  }
  return map
}

function eachArray(array: unknown[], inner: Visit, writeBack: boolean): unknown[] {
  let i = 0
  try {
    for (; i < array.length; i++) {
      const old = array[i]
      const next = inner(old)
      if (writeBack && next !== old) array[i] = next
    }
  } catch (error) {
    throw withSegment(error, indexSegment(i))
  }
  return array
}

function visitSetValues(set: Set<unknown>, inner: Visit): Set<unknown> {
  let i = 0
  try {
    for (const value of set) {
      inner(value)
      i++
    }
  } catch (error) {
    throw withSegment(error, setSegment(i))
  }
  return set
}

// A Set element cannot be replaced in its place: collect, and rebuild in the
// same order only if something changed.
function replaceSetValues(set: Set<unknown>, inner: Visit): Set<unknown> {
  const next = new Array<unknown>(set.size)
  let changed = false
  let i = 0
  try {
    for (const value of set) {
      const v = inner(value)
      next[i++] = v
      if (v !== value) changed = true
    }
  } catch (error) {
    throw withSegment(error, setSegment(i))
  }
  if (changed) {
    set.clear()
    for (const v of next) set.add(v)
  }
  return set
}

function visitObjectValues(object: Record<string, unknown>, inner: Visit): Record<string, unknown> {
  const keys = Object.keys(object)
  let i = 0
  try {
    for (; i < keys.length; i++) inner(object[keys[i]!])
  } catch (error) {
    throw withSegment(error, propSegment(keys[i]!))
  }
  return object
}

function replaceObjectValues(object: Record<string, unknown>, inner: Visit): Record<string, unknown> {
  const keys = Object.keys(object)
  let i = 0
  try {
    for (; i < keys.length; i++) {
      const key = keys[i]!
      const old = object[key]
      const next = inner(old)
      if (next !== old) object[key] = next
    }
  } catch (error) {
    throw withSegment(error, propSegment(keys[i]!))
  }
  return object
}

function nth<T>(iterator: Iterator<T>, n: number): T | undefined {
  for (let r = iterator.next(), i = 0; !r.done; r = iterator.next(), i++) if (i === n) return r.value
  return undefined
}
