// Checking transformed state against the shapes the new version declares.
//
// Any Standard Schema v1 validator works per root. Validators see objects and
// arrays well but not Map or Set entries, so `mapOf(schema)` / `setOf(schema)`
// validate each entry with an element schema, and issue paths are rendered by
// following them through the actual value: a Map level becomes .get("k"), a
// Set level .values()[i], so messages match the state validator's syntax.
// Validation reads the state; it never replaces it with the validator's output
// (which may strip fields or copy containers).

import { DsuError } from '../runtime/errors.js'
import { preview } from './kinds.js'
import { indexSegment, mapValueSegment, propSegment, setSegment } from './paths.js'
import type { StandardSchemaV1 } from './standard-schema.js'

export type Schemas = Readonly<Record<string, StandardSchemaV1>>

type Result = StandardSchemaV1.Result<unknown>
type Issue = StandardSchemaV1.Issue

/** Entries with issues a mapOf/setOf reports before it stops looking (1M bad entries must not mean 1M issues). */
export const MAX_ENTRIES_WITH_ISSUES = 100
/** Issues a validation error message lists. */
const LISTED = 5

/**
 * A schema for a Map root: every value must pass. Issue paths start with the
 * entry's key.
 *
 *   schemas: { customers: mapOf(z.object({ name: z.string(), cents: z.int() })) }
 */
export function mapOf<V, K = unknown>(valueSchema: StandardSchemaV1<unknown, V>): StandardSchemaV1<Map<K, V>> {
  return collectionSchema('Map', (value, check) => {
    if (!(value instanceof Map)) return false
    for (const [key, v] of value) if (!check(v, valueSchema, [key])) return true
    return true
  })
}

/** A schema for a Set root: every element must pass. Issue paths start with the element's position. */
export function setOf<V>(schema: StandardSchemaV1<unknown, V>): StandardSchemaV1<Set<V>> {
  return collectionSchema('Set', (value, check) => {
    if (!(value instanceof Set)) return false
    let i = 0
    for (const v of value) if (!check(v, schema, [i++])) return true
    return true
  })
}

type Check = (value: unknown, schema: StandardSchemaV1, prefix: PropertyKey[]) => boolean

// Runs synchronously while the element schemas answer synchronously; waits for
// the promises of async ones only at the end.
function collectionSchema<T>(kind: 'Map' | 'Set', each: (value: unknown, check: Check) => boolean): StandardSchemaV1<T> {
  const validate = (value: unknown): Result | Promise<Result> => {
    const issues: Issue[] = []
    const pending: Promise<void>[] = []
    let failing = 0
    const add = (result: Result, prefix: PropertyKey[]) => {
      if (!result.issues) return
      failing++
      for (const issue of result.issues) issues.push({ message: issue.message, path: [...prefix, ...(issue.path ?? [])] })
    }
    const check: Check = (v, schema, prefix) => {
      const result = schema['~standard'].validate(v)
      if (result instanceof Promise) pending.push(result.then((r) => add(r, prefix)))
      else add(result, prefix)
      return failing < MAX_ENTRIES_WITH_ISSUES
    }
    if (!each(value, check)) return { issues: [{ message: `expected ${kind}` }] }
    const finish = (): Result => (issues.length ? { issues } : { value })
    return pending.length ? Promise.all(pending).then(finish) : finish()
  }
  return { '~standard': { version: 1, vendor: 'dsu', validate: validate as (value: unknown) => StandardSchemaV1.Result<T> | Promise<StandardSchemaV1.Result<T>> } }
}

/**
 * Checks each root that has a schema (roots absent from `roots` are skipped:
 * the new version initialises them itself). Throws DSU_ERR_VALIDATION listing
 * the first issues with path and value: `customers.get("c7").cents: expected integer, got 12.5`.
 */
export async function validateRoots(roots: Readonly<Record<string, unknown>>, schemas: Schemas, versions?: { from: string; to: string }): Promise<void> {
  const lines: string[] = []
  let total = 0
  for (const name of Object.keys(schemas)) {
    if (!Object.hasOwn(roots, name)) continue
    const schema = schemas[name]!
    if (typeof schema?.['~standard']?.validate !== 'function') {
      throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `schema for root ${name} is not a Standard Schema (no ~standard.validate)`)
    }
    let result = schema['~standard'].validate(roots[name])
    if (result instanceof Promise) result = await result
    if (!result.issues) continue
    total += result.issues.length
    for (const issue of result.issues.slice(0, LISTED - lines.length)) lines.push(describeIssue(name, roots[name], issue))
  }
  if (total === 0) return
  const more = total > lines.length ? ` (and ${total - lines.length} more)` : ''
  const prefix = versions ? `${versions.from} → ${versions.to}: ` : ''
  throw new DsuError('DSU_ERR_VALIDATION', `${prefix}${lines.join('; ')}${more}`)
}

/** `<path>: <message>, got <value>`, the path followed through the value itself. */
export function describeIssue(rootName: string, root: unknown, issue: Issue): string {
  let path = rootName
  let value: unknown = root
  for (const item of issue.path ?? []) {
    const key = typeof item === 'object' && item !== null ? (item as StandardSchemaV1.PathSegment).key : item
    if (value instanceof Map) {
      path += mapValueSegment(key, -1)
      value = value.get(key)
    } else if (value instanceof Set && typeof key === 'number') {
      path += setSegment(key)
      value = [...value][key]
    } else if (Array.isArray(value) && typeof key === 'number') {
      path += indexSegment(key)
      value = value[key]
    } else {
      path += typeof key === 'symbol' ? `[${key.toString()}]` : typeof key === 'number' ? indexSegment(key) : propSegment(key)
      value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined
    }
  }
  return `${path}: ${issue.message}, got ${preview(value)}`
}
