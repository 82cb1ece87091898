// The metadata a compiled transformer carries, for checks that need no values
// (preflight), for chains (which merge it), and for round trips (the inverse).

import type { Schemas } from './validate.js'
import type { Rule } from './rules.js'

export type Roots = Record<string, unknown>

export interface Versions {
  /** Version label of the running (old) program. */
  from: string
  /** Version label of the new program. */
  to: string
}

export type Transformer<From extends Roots = Roots, To extends Roots = Roots> =
  (roots: From, versions: Versions) => To | Promise<To>

/** What preflight knows of one rule: which roots it needs, removes and adds. */
export interface RuleInfo {
  readonly kind: Rule['kind'] | 'function'
  readonly label: string
  /** Roots that must exist and stay (path rules). */
  readonly requires: readonly string[]
  /** Roots that must exist and are removed. */
  readonly consumes: readonly string[]
  /** Roots the rule adds. */
  readonly produces: readonly string[]
  /** For path rules: the steps after the root, `*` or a field name. */
  readonly steps?: readonly ('*' | { field: string })[]
  /** The rule replaces the whole root set with one preflight cannot see (a function). */
  readonly opaque: boolean
  /** For an opaque rule that said which roots it returns. */
  readonly result?: readonly string[]
  /** For renameClass: the old and the new class name. */
  readonly classRename?: { readonly from: string; readonly to: string }
}

/** One version step: a transformer from `from` to `to` (exact labels or `1.x` patterns). */
export interface LinkMeta {
  readonly from: string
  readonly to: string
  readonly rules: readonly RuleInfo[]
  /** The roots the new version marks, when the transformer declared them. */
  readonly declared?: readonly string[]
  readonly schemas?: Schemas
  /** Where the link came from (a file in a chain), for messages. */
  readonly source?: string
}

export interface TransformerMeta extends LinkMeta {
  /** The steps of a chain in order; one element for a single transformer. */
  readonly links: readonly LinkMeta[]
  /** The transformer back from `to` to `from`, for round-trip checks. */
  readonly inverse?: Transformer
}

/** A transformer built by this library: always async, with metadata. */
export type CompiledTransformer<From extends Roots = Roots, To extends Roots = Roots> =
  ((roots: From, versions: Versions) => Promise<To>) & { readonly meta: TransformerMeta }

/** The metadata of a compiled transformer; undefined for a plain function. */
export function metaOf(transformer: unknown): TransformerMeta | undefined {
  if (typeof transformer !== 'function') return undefined
  const meta = (transformer as { meta?: unknown }).meta
  return typeof meta === 'object' && meta !== null && Array.isArray((meta as TransformerMeta).links) ? (meta as TransformerMeta) : undefined
}

/** Metadata for a plain function transformer: one opaque rule between the given versions. */
export function opaqueMeta(from: string, to: string, source?: string): TransformerMeta {
  const link: LinkMeta = {
    from,
    to,
    rules: [{ kind: 'function', label: 'function', requires: [], consumes: [], produces: [], opaque: true }],
    ...(source === undefined ? {} : { source }),
  }
  return { ...link, links: [link] }
}

/**
 * Old class name → the name to look up in the new version, through every
 * link's renameClass rules in order (a chain composes them).
 */
export function classRenames(transformer: unknown): Map<string, string> {
  const renames = new Map<string, string>()
  for (const link of metaOf(transformer)?.links ?? []) {
    for (const rule of link.rules) {
      const rename = rule.classRename
      if (!rename) continue
      let mapped = false
      for (const [old, current] of renames) {
        if (current === rename.from) {
          renames.set(old, rename.to)
          mapped = true
        }
      }
      if (!mapped && !renames.has(rename.from)) renames.set(rename.from, rename.to)
    }
  }
  return renames
}

export function attachMeta<T extends Transformer>(fn: T, meta: TransformerMeta): T & { readonly meta: TransformerMeta } {
  Object.defineProperty(fn, 'meta', { value: meta, enumerable: true })
  return fn as T & { readonly meta: TransformerMeta }
}
