// Transformer files and chains.
//
// A transformers directory holds one module per version pair, named
// `<from>--<to>.js` (or .mjs/.cjs, or .ts/.mts/.cts: the process that loads
// them then has a TypeScript loader, see runtime/supervisor/typescript-loader.ts),
// e.g. 1.0.0--2.0.0.js, 2.x--3.0.0.js. The chain from the running version to
// the target is the shortest path through those pairs (fewest links; exact
// names before patterns), loaded and composed into one transformer whose
// metadata lists every link. Only the modules on the path are imported.

import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { DsuError } from '../runtime/errors.js'
import { attachMeta, metaOf, opaqueMeta, type CompiledTransformer, type LinkMeta, type Roots, type Transformer, type TransformerMeta, type Versions } from './meta.js'
import { validateRoots, type Schemas } from './validate.js'
import { compareVersions, isPattern, versionMatches } from './versions.js'

const FILE = /^(.+?)--(.+)\.[cm]?[jt]s$/

/**
 * Loads one transformer module: its default export (a compiled DSL
 * transformer or a plain function), plus optional `schemas` and `inverse`
 * exports, which are attached to its metadata (and schemas checked after it runs).
 */
export async function loadTransformer(file: string, pair?: Versions): Promise<CompiledTransformer> {
  const full = resolve(file)
  let mod: { default?: unknown; schemas?: unknown; inverse?: unknown }
  try {
    mod = (await import(pathToFileURL(full).href)) as typeof mod
  } catch (cause) {
    throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `cannot load transformer ${full}: ${(cause as Error)?.message ?? cause}`, { cause })
  }
  const fn = mod.default
  if (typeof fn !== 'function') throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer ${full} has no default-exported function (found ${typeof fn})`)
  const own = metaOf(fn)
  if (own && pair && (own.from !== pair.from || own.to !== pair.to)) {
    throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer ${full} is named for ${pair.from} → ${pair.to} but declares ${own.from} → ${own.to}`)
  }
  const base = own ?? opaqueMeta(pair?.from ?? '*', pair?.to ?? '*', full)
  const schemas = mod.schemas as Schemas | undefined
  const inverse = typeof mod.inverse === 'function' ? (mod.inverse as Transformer) : base.inverse
  if (!schemas && inverse === base.inverse && own) return fn as CompiledTransformer
  const link: LinkMeta = { ...base.links[0]!, source: full, ...(schemas ? { schemas: { ...base.schemas, ...schemas } } : {}) }
  const meta: TransformerMeta = { ...base, ...link, links: [link], ...(inverse ? { inverse } : {}) }
  const run = async (roots: Roots, versions: Versions): Promise<Roots> => {
    const out = await (fn as Transformer)(roots, versions)
    if (schemas) await validateRoots(out, schemas, versions)
    return out
  }
  return attachMeta(run, meta)
}

interface Edge {
  from: string
  to: string
  file: string
}

/**
 * The transformer from `from` to `to` made of the files in `dir`: the shortest
 * chain of version pairs, composed into one function. No chain: throws
 * DSU_ERR_CHAIN_MISSING_LINK naming the pair that is missing.
 */
export async function loadChain(dir: string, from: string, to: string): Promise<CompiledTransformer> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (cause) {
    throw new DsuError('DSU_ERR_TRANSFORMER_NOT_FOUND', `transformers directory ${resolve(dir)} cannot be read: ${(cause as Error).message}`, { cause })
  }
  const edges: Edge[] = []
  for (const name of names.sort()) {
    const m = FILE.exec(name)
    if (m) edges.push({ from: m[1]!, to: m[2]!, file: join(dir, name) })
  }
  // Exact names first, so a pattern is used only when nothing exact fits.
  edges.sort((a, b) => Number(isPattern(a.from)) - Number(isPattern(b.from)) || Number(isPattern(a.to)) - Number(isPattern(b.to)))
  const path = shortestPath(edges, from, to)
  if (!path) throw missingLink(dir, edges, from, to)
  const links = await Promise.all(path.map(async (step) => ({ ...step, transformer: await loadTransformer(step.edge.file, { from: step.edge.from, to: step.edge.to }) })))
  return composeLinks(from, to, links)
}

/** Composes transformers with exact, consecutive versions (a.to === b.from) into one. */
export function chain(...transformers: CompiledTransformer[]): CompiledTransformer {
  if (transformers.length === 0) throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', 'chain() needs at least one transformer')
  const links = transformers.map((transformer, i) => {
    const meta = transformer.meta
    const prev = transformers[i - 1]?.meta
    if (prev && prev.to !== meta.from) throw new DsuError('DSU_ERR_CHAIN_MISSING_LINK', `chain: ${prev.from} → ${prev.to} is followed by ${meta.from} → ${meta.to}; missing ${prev.to} → ${meta.from}`)
    return { from: meta.from, to: meta.to, transformer }
  })
  return composeLinks(links[0]!.from, links[links.length - 1]!.to, links)
}

type Step = { from: string; to: string; edge: Edge }

// Breadth-first over versions; a link whose `to` is a pattern can only end a chain.
function shortestPath(edges: Edge[], from: string, to: string): Step[] | null {
  if (from === to) return []
  const previous = new Map<string, Step | null>([[from, null]])
  const queue = [from]
  const back = (version: string, last: Step): Step[] => {
    const steps = [last]
    for (let s = previous.get(version); s; s = previous.get(s.from)) steps.unshift(s)
    return steps
  }
  while (queue.length) {
    const version = queue.shift()!
    for (const edge of edges) {
      if (!versionMatches(edge.from, version)) continue
      if (versionMatches(edge.to, to)) return back(version, { from: version, to, edge })
      if (!isPattern(edge.to) && !previous.has(edge.to)) {
        previous.set(edge.to, { from: version, to: edge.to, edge })
        queue.push(edge.to)
      }
    }
  }
  return null
}

// Names the gap: from the furthest version reachable below the target.
function missingLink(dir: string, edges: Edge[], from: string, to: string): DsuError {
  const reachable = [from]
  for (let i = 0; i < reachable.length; i++) {
    for (const edge of edges) {
      if (versionMatches(edge.from, reachable[i]!) && !isPattern(edge.to) && !reachable.includes(edge.to)) reachable.push(edge.to)
    }
  }
  const below = reachable.filter((v) => compareVersions(v, to) < 0).sort(compareVersions)
  const gap = below[below.length - 1] ?? from
  const have = edges.map((e) => `${e.from} → ${e.to}`).join(', ') || 'none'
  return new DsuError('DSU_ERR_CHAIN_MISSING_LINK', `no transformer chain from ${from} to ${to} in ${resolve(dir)}: missing ${gap} → ${to} (have: ${have})`)
}

function composeLinks(from: string, to: string, links: Array<{ from: string; to: string; transformer: Transformer }>): CompiledTransformer {
  const metas = links.map((link) => metaOf(link.transformer) ?? opaqueMeta(link.from, link.to))
  const linkMetas = metas.flatMap((meta) => meta.links)
  const last = linkMetas[linkMetas.length - 1]
  const inverses = metas.map((meta) => meta.inverse)
  const inverse = links.length > 0 && inverses.every((t): t is Transformer => t !== undefined)
    ? composeLinks(to, from, links.map((link, i) => ({ from: link.to, to: link.from, transformer: inverses[i]! })).reverse())
    : undefined
  const meta: TransformerMeta = {
    from,
    to,
    rules: linkMetas.flatMap((link) => link.rules),
    links: linkMetas,
    ...(last?.declared ? { declared: last.declared } : {}),
    ...(last?.schemas ? { schemas: last.schemas } : {}),
    ...(inverse ? { inverse } : {}),
  }
  const run = async (roots: Roots, versions: Versions): Promise<Roots> => {
    if (!versionMatches(from, versions.from) || !versionMatches(to, versions.to)) {
      throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer chain ${from} → ${to} does not apply to the upgrade ${versions.from} → ${versions.to}`)
    }
    let state = roots
    for (const link of links) state = await link.transformer(state, { from: link.from, to: link.to })
    return state
  }
  return attachMeta(run, meta)
}
