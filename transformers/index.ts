/**
 * dsu/transformers: how version A's marked state becomes version B's.
 *
 * A transformer module default-exports a function from the old roots (name →
 * value) to the new roots; roots it leaves out are initialised by the new
 * version's own state(name, init). `defineTransformer` only adds types.
 *
 *   import { defineTransformer } from 'dsu/transformers'
 *   export default defineTransformer(({ counters, ...rest }) => ({ ...rest, tallies: counters }))
 */
export type Roots = Record<string, unknown>

export interface Versions {
  /** Version label of the running (old) program. */
  from: string
  /** Version label of the new program. */
  to: string
}

export type Transformer<From extends Roots = Roots, To extends Roots = Roots> =
  (roots: From, versions: Versions) => To | Promise<To>

export function defineTransformer<From extends Roots = Roots, To extends Roots = Roots>(
  transform: Transformer<From, To>,
): Transformer<From, To> {
  if (typeof transform !== 'function') throw new TypeError('defineTransformer(fn): fn must be a function')
  return transform
}
