// Value kinds as error messages name them ("expected number, got string"), and
// the cheap type tests the compiled rules run on every element.

/** What a rule may `expect` of the value it reads. */
export type Expect =
  | 'number' | 'integer' | 'string' | 'boolean' | 'bigint' | 'null' | 'undefined'
  | 'object' | 'array' | 'Map' | 'Set' | 'Date'

const BUILTIN_PROTOS = new Set<unknown>([
  Array.prototype, Map.prototype, Set.prototype, Date.prototype, RegExp.prototype,
  ArrayBuffer.prototype, Promise.prototype, WeakMap.prototype, WeakSet.prototype,
  Object.getPrototypeOf(Uint8Array.prototype), DataView.prototype,
])

/** The kind of a value in messages: typeof, refined for null, arrays, built-ins and classes. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value
  if (Array.isArray(value)) return 'array'
  const proto = Object.getPrototypeOf(value) as object | null
  if (proto === Object.prototype || proto === null) return 'object'
  let name: unknown
  try {
    name = (proto as { constructor?: { name?: unknown } }).constructor?.name
  } catch {
    // a throwing getter must not hide the real problem
  }
  return typeof name === 'string' && name !== '' ? name : 'object'
}

/**
 * A record is something a field rule may read and write: a plain object or an
 * instance of a program class, never an array or another built-in. The plain
 * prototype test comes first because it is the common case and costs one load.
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value) as object | null
  if (proto === Object.prototype || proto === null) return true
  return !Array.isArray(value) && !isBuiltin(value)
}

function isBuiltin(value: object): boolean {
  for (let p = Object.getPrototypeOf(value) as object | null; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (BUILTIN_PROTOS.has(p)) return true
  }
  return false
}

export function matchesExpect(expect: Expect, value: unknown): boolean {
  switch (expect) {
    case 'integer':
      return Number.isInteger(value)
    case 'null':
      return value === null
    case 'object':
      return isRecord(value)
    case 'array':
      return Array.isArray(value)
    case 'Map':
      return value instanceof Map
    case 'Set':
      return value instanceof Set
    case 'Date':
      return value instanceof Date
    default:
      return typeof value === expect
  }
}

/** A short rendering of a value for messages: `12.5`, `"abc"`, `12n`, `Map(3)`. */
export function preview(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    case 'bigint':
      return `${value}n`
    case 'object':
      if (value === null) return 'null'
      if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`
      if (value instanceof Map || value instanceof Set) return `${kindOf(value)}(${value.size})`
      if (Array.isArray(value)) return `array(${value.length})`
      return kindOf(value)
    case 'function':
      return 'function'
    case 'symbol':
      return value.toString()
    default:
      return String(value)
  }
}
