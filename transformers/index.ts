/**
 * dsu/transformers: how version A's marked state becomes version B's.
 *
 * A transformer module default-exports a function from the old roots (name →
 * value) to the new roots; roots it leaves out are initialised by the new
 * version's own state(name, init). Write it by hand, or declare it:
 *
 *   import { transformer, addField, convert, renameRoot, dropRoot } from 'dsu/transformers'
 *   export default transformer({
 *     from: '1.0.0',
 *     to: '2.0.0',
 *     rules: [
 *       addField('customers.*', 'accesses', 0),
 *       convert('customers.*.balance', (b: number) => Math.round(b * 100), { to: 'cents', expect: 'number' }),
 *       renameRoot('counters', 'tallies'),
 *       dropRoot('cache'),
 *     ],
 *   })
 *
 * The declared form compiles to exactly such a function, with `meta` attached
 * (versions, rules, declared roots, schemas, inverse) for preflight(), chains
 * and roundTrip(). Rules run in order; roots no rule names pass through as
 * they are (same object). Errors name the version pair, the rule and the
 * exact path: `1.0.0 → 2.0.0, rule convert(balance → cents) at
 * customers.get("c7").balance: expected number, got string`.
 * See transformers/README.md for every form.
 */
import { compileTransformer, type TransformerSpec } from './compile.js'
import type { CompiledTransformer, Roots, Transformer } from './meta.js'

export type { Roots, Versions, Transformer, CompiledTransformer, TransformerMeta, LinkMeta, RuleInfo } from './meta.js'
export { metaOf, classRenames } from './meta.js'
export type { TransformerSpec } from './compile.js'
export type { Expect } from './kinds.js'
export { addField, dropField, renameField, convert, revive } from './rules.js'
export { renameRoot, dropRoot, splitRoot, mergeRoots, custom, renameClass } from './root-rules.js'
export type { Rule, Class, ConvertOptions, FieldOptions } from './rules.js'
export { validateRoots, mapOf, setOf, type Schemas } from './validate.js'
export type { StandardSchemaV1 } from './standard-schema.js'
export { preflight, assertPreflight, registrationProblems, type Manifest, type Problem, type PreflightReport, type RootKind } from './preflight.js'
export { loadChain, loadTransformer, chain } from './chain.js'
export { roundTrip, type Difference } from './round-trip.js'
export { versionMatches } from './versions.js'

/**
 * Compiles a declared transformer: versions, rules, and optionally the
 * classes revive() may name, the roots the new version declares, Standard
 * Schemas for the new roots, and the inverse transformer.
 *
 *   export default transformer({ from: '1.0.0', to: '2.0.0', rules: [renameRoot('counters', 'tallies')] })
 */
export function transformer<From extends Roots = Roots, To extends Roots = Roots>(spec: TransformerSpec): CompiledTransformer<From, To> {
  return compileTransformer<From, To>(spec)
}

/**
 * Types a hand-written transformer function (returned as is), or compiles a
 * declared one like transformer(spec).
 *
 *   export default defineTransformer(({ counters, ...rest }) => ({ ...rest, tallies: counters }))
 */
export function defineTransformer<From extends Roots = Roots, To extends Roots = Roots>(transform: Transformer<From, To>): Transformer<From, To>
export function defineTransformer<From extends Roots = Roots, To extends Roots = Roots>(spec: TransformerSpec): CompiledTransformer<From, To>
export function defineTransformer(transform: Transformer | TransformerSpec): Transformer {
  if (typeof transform === 'function') return transform
  if (typeof transform === 'object' && transform !== null) return compileTransformer(transform)
  throw new TypeError('defineTransformer(fn): fn must be a function (or a transformer spec { from, to, rules })')
}
