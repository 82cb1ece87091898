// The DSL forms that work on whole roots: rename, drop, split, merge, and the
// function escape hatch. Like the path rules they are data; compile.ts runs them.

import { DsuError } from '../runtime/errors.js'
import type { CustomRule, DropRootRule, MergeRootsRule, RenameClassRule, RenameRootRule, SplitRootRule } from './rules.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

/** Renames a root; its value moves untouched.  renameRoot('counters', 'tallies') */
export function renameRoot(from: string, to: string): RenameRootRule {
  return { kind: 'renameRoot', label: `renameRoot(${from} → ${to})`, from, to }
}

/**
 * Maps a registered class's old name to the name the new version registers:
 * instances registered as `from` arrive with the prototype of the class the
 * new version registered as `to`. It acts while the state is decoded, before
 * any rule runs, so every rule already sees the new class. Pre-flight accepts
 * `from` as known when the new version registers `to`.
 *
 *   renameClass('Account', 'BankAccount')
 */
export function renameClass(from: string, to: string): RenameClassRule {
  if (typeof from !== 'string' || from === '' || typeof to !== 'string' || to === '') {
    throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', 'renameClass(from, to) needs two class names')
  }
  return { kind: 'renameClass', label: `renameClass(${from} → ${to})`, from, to }
}

/** Drops roots the new version no longer has.  dropRoot('cache', 'stats') */
export function dropRoot(...names: string[]): DropRootRule {
  if (names.length === 0) throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', 'dropRoot() needs at least one root name')
  return { kind: 'dropRoot', label: `dropRoot(${names.join(', ')})`, names }
}

/**
 * Replaces one root by several, each computed from the old value (which may
 * keep its own name among them).
 *
 *   splitRoot('users', {
 *     admins: (users: Map<string, User>) => new Map([...users].filter(([, u]) => u.admin)),
 *     members: (users: Map<string, User>) => new Map([...users].filter(([, u]) => !u.admin)),
 *   })
 */
export function splitRoot<T = Any>(name: string, into: Record<string, (value: T) => unknown>): SplitRootRule {
  const names = Object.keys(into)
  if (names.length === 0) throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `splitRoot(${name}) needs at least one target root`)
  return { kind: 'splitRoot', label: `splitRoot(${name} → ${names.join(', ')})`, name, into }
}

/**
 * Replaces several roots by one computed from their values, in the order named.
 *
 *   mergeRoots(['carts', 'wishlists'], 'baskets', (carts, wishlists) => new Map([...carts, ...wishlists]))
 */
export function mergeRoots<T extends unknown[] = Any[]>(names: string[], into: string, merge: (...values: T) => unknown): MergeRootsRule {
  if (names.length === 0) throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `mergeRoots(→ ${into}) needs at least one source root`)
  return { kind: 'mergeRoots', label: `mergeRoots(${names.join(', ')} → ${into})`, names, into, merge: merge as (...values: Any[]) => unknown }
}

/**
 * The escape hatch: a function over the whole state so far (name → value) that
 * returns the whole new state. Pass `roots` (the names it returns) so
 * preflight can keep checking the rules after it.
 *
 *   custom((roots) => ({ ...roots, index: buildIndex(roots.customers) }), { name: 'index', roots: ['customers', 'index'] })
 */
export function custom(fn: CustomRule['fn'], options: { name?: string; roots?: string[] } = {}): CustomRule {
  const rule: CustomRule = { kind: 'custom', label: options.name ? `custom(${options.name})` : 'custom', fn }
  return options.roots ? { ...rule, roots: options.roots } : rule
}
