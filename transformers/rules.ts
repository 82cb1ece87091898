// The rule types, and the DSL forms that work inside roots (root-rules.ts has
// the others). Each function returns a Rule: plain data plus, for path rules,
// a factory for the closure that does the work. Nothing runs here; compile.ts
// turns a list of rules into one transformer function.
//
// Field rules change records in place (keeping their identity, so references
// shared between records stay shared); convert and revive may replace a value.

import { DsuError } from '../runtime/errors.js'
import { isRecord, kindOf, matchesExpect, preview, type Expect } from './kinds.js'
import { formatPath, parsePath, propSegment, RuleFailure, threw, withSegment, type RulePath } from './paths.js'
import type { Visit } from './walk.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

/** A class of the new version; `revive` gives records its prototype. */
export type Class<T extends object = object> = abstract new (...args: Any[]) => T

/** What a path rule's operation may look up when it is compiled. */
export interface CompileContext {
  readonly classes: Readonly<Record<string, Class>>
}

export interface PathRule {
  readonly kind: 'path'
  readonly label: string
  /** Where the operation runs: the records for field rules, else the value itself. */
  readonly target: RulePath
  /** True when the operation may return a new value (so the walk writes back). */
  readonly replaces: boolean
  readonly operation: (context: CompileContext) => Visit
}
export interface RenameRootRule { readonly kind: 'renameRoot'; readonly label: string; readonly from: string; readonly to: string }
export interface DropRootRule { readonly kind: 'dropRoot'; readonly label: string; readonly names: readonly string[] }
export interface SplitRootRule {
  readonly kind: 'splitRoot'
  readonly label: string
  readonly name: string
  readonly into: Readonly<Record<string, (value: Any) => unknown>>
}
export interface MergeRootsRule {
  readonly kind: 'mergeRoots'
  readonly label: string
  readonly names: readonly string[]
  readonly into: string
  readonly merge: (...values: Any[]) => unknown
}
export interface CustomRule {
  readonly kind: 'custom'
  readonly label: string
  readonly fn: (roots: Record<string, unknown>, versions: { from: string; to: string }) => Record<string, unknown> | Promise<Record<string, unknown>>
  /** The root names fn returns, when known; preflight cannot see past it otherwise. */
  readonly roots?: readonly string[]
}

/** Instances the old version registered as `from` arrive as the new version's class registered as `to`. */
export interface RenameClassRule { readonly kind: 'renameClass'; readonly label: string; readonly from: string; readonly to: string }

export type Rule = PathRule | RenameRootRule | DropRootRule | SplitRootRule | MergeRootsRule | CustomRule | RenameClassRule

export interface FieldOptions {
  /** A missing field is skipped instead of failing the upgrade. */
  optional?: boolean
}

/**
 * Adds `field` to every record at `path`, with a default or a value computed
 * from the record. Object defaults are copied per record (structuredClone), so
 * records never share them. An existing field is an error unless `overwrite`.
 *
 *   addField('customers.*', 'accesses', 0)
 *   addField('customers.*', 'initials', (c: { name: string }) => c.name.slice(0, 1))
 */
export function addField<E extends object = Any, V = unknown>(
  path: string,
  field: string,
  value: V | ((record: E) => V),
  options: { overwrite?: boolean } = {},
): PathRule {
  const label = `addField(${field})`
  const segment = propSegment(field)
  const overwrite = options.overwrite === true
  const exists = (record: Record<string, unknown>) =>
    new RuleFailure(`field already exists (${kindOf(record[field])})`, label).at(segment)
  let operation: Visit
  if (typeof value === 'function') {
    const compute = value as (record: E) => V
    operation = (record) => {
      if (!isRecord(record)) throw notRecord(label, record)
      if (!overwrite && field in record) throw exists(record)
      let next: unknown
      try {
        next = compute(record as E)
      } catch (error) {
        throw threw(error, label).at(segment)
      }
      record[field] = next
      return record
    }
  } else if (typeof value === 'object' && value !== null) {
    operation = (record) => {
      if (!isRecord(record)) throw notRecord(label, record)
      if (!overwrite && field in record) throw exists(record)
      record[field] = structuredClone(value)
      return record
    }
  } else {
    operation = (record) => {
      if (!isRecord(record)) throw notRecord(label, record)
      if (!overwrite && field in record) throw exists(record)
      record[field] = value
      return record
    }
  }
  return { kind: 'path', label, target: parsePath(path), replaces: false, operation: () => operation }
}

/**
 * Removes `field` from every record at `path`; records without it are left alone.
 *
 *   dropField('customers.*', 'legacyId')
 */
export function dropField(path: string, field: string): PathRule {
  const label = `dropField(${field})`
  const operation: Visit = (record) => {
    if (!isRecord(record)) throw notRecord(label, record)
    if (field in record) delete record[field]
    return record
  }
  return { kind: 'path', label, target: parsePath(path), replaces: false, operation: () => operation }
}

/**
 * Renames `from` to `to` in every record at `path`. A record without `from`
 * fails the upgrade unless `optional`; one that already has `to` always does.
 *
 *   renameField('customers.*', 'name', 'fullName')
 */
export function renameField(path: string, from: string, to: string, options: FieldOptions = {}): PathRule {
  const parsed = parsePath(path)
  const withField: RulePath = { root: parsed.root, steps: [...parsed.steps, { kind: 'field', name: from }] }
  return leafRule(`renameField(${from} → ${to})`, withField, undefined, () => identity, { ...options, to })
}

export interface ConvertOptions extends FieldOptions {
  /** The field's new name, when the path ends with a field (float `balance` → integer `cents`). */
  to?: string
  /** The kind the old value must have; anything else fails with the exact path. */
  expect?: Expect
}

/**
 * Replaces the value at every location `path` matches with `fn(value, parent)`;
 * the path may end with a field, `*`, or be a root. `to` renames the field too.
 *
 *   convert('customers.*.balance', (b: number) => Math.round(b * 100), { to: 'cents', expect: 'number' })
 *   convert('users.*.sessions.*.expires', (ms: number) => new Date(ms), { expect: 'number' })
 *   convert('counters.*', (n: number) => ({ value: n, updates: 0 }))
 */
export function convert<I = Any, O = unknown>(path: string, fn: (value: I, parent: Any) => O, options: ConvertOptions = {}): PathRule {
  const parsed = parsePath(path)
  const last = parsed.steps[parsed.steps.length - 1]
  const name = last?.kind === 'field' ? last.name : path
  const label = options.to === undefined ? `convert(${name})` : `convert(${name} → ${options.to})`
  const expect = options.expect
  const operation: LeafOperation = (value, parent) => {
    if (expect !== undefined && !matchesExpect(expect, value)) throw new RuleFailure(mismatch(expect, value), label)
    try {
      return fn(value as I, parent)
    } catch (error) {
      throw threw(error, label)
    }
  }
  return leafRule(label, parsed, expect, () => operation, options)
}

/**
 * Gives every record at `path` the prototype of one of the new version's
 * classes: `Class` itself, or a name registered in the transformer's `classes`.
 * The constructor does not run; if the class has a static `fromRecord(record)`
 * (or a `factory` is given) that builds the instance instead. A value that is
 * already an instance is kept.
 *
 *   revive('customers.*', Customer)
 *   revive('customers.*', 'Customer')          // with transformer({ classes: { Customer }, … })
 */
export function revive<T extends object>(path: string, target: Class<T> | string, factory?: (record: Any) => T): PathRule {
  const name = typeof target === 'string' ? target : target.name || 'anonymous class'
  const label = `revive(${name})`
  const parsed = parsePath(path)
  const make = (context: CompileContext): LeafOperation => {
    const cls = typeof target === 'string' ? context.classes[target] : target
    if (typeof cls !== 'function') {
      const known = Object.keys(context.classes)
      throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `rule ${label}: no class named ${name} in the transformer's classes (${known.length ? known.join(', ') : 'none registered'})`)
    }
    const build = factory ?? (cls as { fromRecord?: (record: unknown) => T }).fromRecord?.bind(cls)
    const proto = cls.prototype as object
    return (value) => {
      if (value instanceof cls) return value
      if (!isRecord(value)) throw notRecord(label, value)
      if (build === undefined) return Object.assign(Object.create(proto) as object, value)
      try {
        return build(value)
      } catch (error) {
        throw threw(error, label)
      }
    }
  }
  return leafRule(label, parsed, undefined, make, {})
}

// A rule whose path may end with a field: it then runs on the parent records,
// so it can check the field is there, rename it, and fuse with the other field
// rules on the same records. Otherwise it replaces the matched values.
type LeafOperation = (value: unknown, parent: unknown) => unknown

function leafRule(
  label: string,
  parsed: RulePath,
  expect: Expect | undefined,
  make: (context: CompileContext) => LeafOperation,
  options: ConvertOptions,
): PathRule {
  const last = parsed.steps[parsed.steps.length - 1]
  if (last?.kind !== 'field') {
    if (options.to !== undefined) throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `rule ${label}: "to" needs a path that ends with a field, not ${formatPath(parsed)}`)
    return { kind: 'path', label, target: parsed, replaces: true, operation: make as (context: CompileContext) => Visit }
  }
  const field = last.name
  const segment = propSegment(field)
  const to = options.to === field ? undefined : options.to
  const toSegment = to === undefined ? '' : propSegment(to)
  const optional = options.optional === true
  const missing = `expected ${expect ?? 'a value'}, got nothing (no field ${field})`
  const target: RulePath = { root: parsed.root, steps: parsed.steps.slice(0, -1) }
  const operation = (context: CompileContext): Visit => {
    const inner = make(context)
    return (record) => {
      if (!isRecord(record)) throw notRecord(label, record)
      const old = record[field]
      if (old === undefined && !(field in record)) {
        if (optional) return record
        throw new RuleFailure(missing, label).at(segment)
      }
      if (to !== undefined && to in record) throw new RuleFailure(`field already exists (${kindOf(record[to])})`, label).at(toSegment)
      let next: unknown
      try {
        next = inner(old, record)
      } catch (error) {
        throw withSegment(error, segment)
      }
      if (to === undefined) {
        if (next !== old) record[field] = next
      } else {
        record[to] = next
        delete record[field]
      }
      return record
    }
  }
  return { kind: 'path', label, target, replaces: false, operation }
}

function notRecord(label: string, value: unknown): RuleFailure {
  return new RuleFailure(`expected object, got ${kindOf(value)}`, label)
}

function mismatch(expect: Expect, value: unknown): string {
  const kind = kindOf(value)
  // "expected integer, got number" says little; show the value when the kinds read alike.
  return `expected ${expect}, got ${kind === expect || (expect === 'integer' && kind === 'number') ? preview(value) : kind}`
}

const identity = (value: unknown): unknown => value
