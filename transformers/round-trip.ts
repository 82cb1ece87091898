// A → B → A: run a transformer and its declared inverse over a copy of some
// state and report the first place the result differs from the original. A
// lossless transformer returns null; a lossy one (a dropped field, a rounded
// number) shows exactly what it loses.

import { DsuError } from '../runtime/errors.js'
import { firstDifference, type Difference } from './diff.js'
import { metaOf, type Roots, type Transformer, type Versions } from './meta.js'

export type { Difference } from './diff.js'

/**
 * The first difference between `roots` and inverse(transformer(roots)), or
 * null. `roots` itself is not touched (the rules run on a structured clone).
 * Pass `inverse` to check a transformer without a declared one.
 */
export async function roundTrip(transformer: Transformer, roots: Roots, versions: Versions, inverse?: Transformer): Promise<Difference | null> {
  const back = inverse ?? metaOf(transformer)?.inverse
  if (!back) throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer ${versions.from} → ${versions.to} declares no inverse; add inverse: { from: '${versions.to}', to: '${versions.from}', rules: […] }`)
  const forward = await transformer(structuredClone(roots), versions)
  const result = await back(forward, { from: versions.to, to: versions.from })
  for (const name of Object.keys(roots)) {
    if (!Object.hasOwn(result, name)) return { path: name, detail: 'root missing after the round trip' }
    const difference = firstDifference(name, roots[name], result[name])
    if (difference) return difference
  }
  for (const name of Object.keys(result)) if (!Object.hasOwn(roots, name)) return { path: name, detail: 'root added by the round trip' }
  return null
}
