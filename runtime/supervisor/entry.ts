// Resolving what the user pointed at: an entry file or a directory, the
// transformer beside it, and the version label from the nearest package.json.
import fs from 'node:fs'
import path from 'node:path'
import { DsuError } from '../errors.js'
import { fileChoice, type TransformerChoice } from '../transformer-choice.js'

export function resolveEntry(target: string, cwd = process.cwd()): string {
  const full = path.resolve(cwd, target)
  let stat: fs.Stats
  try {
    stat = fs.statSync(full)
  } catch {
    throw new DsuError('DSU_ERR_ENTRY_NOT_FOUND', `entry ${target} does not exist (resolved to ${full})`)
  }
  if (stat.isFile()) return full
  const candidates: string[] = []
  const pkg = readPackage(path.join(full, 'package.json'))
  if (typeof pkg?.main === 'string') candidates.push(pkg.main)
  // TypeScript after JavaScript: a directory holding both is a build's output beside its source.
  candidates.push('index.js', 'index.mjs', 'index.ts', 'index.mts', 'server.js', 'server.mjs', 'server.ts', 'server.mts')
  for (const name of candidates) {
    const file = path.join(full, name)
    if (fs.existsSync(file) && fs.statSync(file).isFile()) return file
  }
  throw new DsuError('DSU_ERR_ENTRY_NOT_FOUND', `directory ${target} has no entry: looked for ${candidates.join(', ')}`)
}

/** The transformer to use: the given file, else dsu.transform.{js,mjs,ts,mts} beside the entry. */
export function resolveTransformer(given: string | null | undefined, entry: string, cwd = process.cwd()): string | null {
  if (given) {
    // `file#name` names an export of the module (e.g. `#reverse`).
    const hash = given.lastIndexOf('#')
    const [file, suffix] = hash > 0 ? [given.slice(0, hash), given.slice(hash)] : [given, '']
    const full = path.resolve(cwd, file)
    if (!fs.existsSync(full)) {
      throw new DsuError('DSU_ERR_TRANSFORMER_NOT_FOUND', `transformer ${file} does not exist (resolved to ${full})`)
    }
    return full + suffix
  }
  for (const name of ['dsu.transform.js', 'dsu.transform.mjs', 'dsu.transform.ts', 'dsu.transform.mts']) {
    const file = path.join(path.dirname(entry), name)
    if (fs.existsSync(file)) return file
  }
  return null
}

/** The nearest package.json version above the entry, else "unversioned". */
export function versionOf(entry: string): string {
  let dir = path.dirname(entry)
  for (;;) {
    const pkg = readPackage(path.join(dir, 'package.json'))
    if (pkg && typeof pkg.version === 'string') return pkg.version
    const parent = path.dirname(dir)
    if (parent === dir) return 'unversioned'
    dir = parent
  }
}

function readPackage(file: string): { main?: unknown; version?: unknown } | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

/** The transformers directory for chains: the given one, else dsu.transformers/ beside the entry. */
export function resolveTransformersDir(given: string | null | undefined, entry: string, cwd = process.cwd()): string | null {
  if (given) {
    const full = path.resolve(cwd, given)
    if (!fs.existsSync(full) || !fs.statSync(full).isDirectory()) {
      throw new DsuError('DSU_ERR_TRANSFORMER_NOT_FOUND', `transformers directory ${given} does not exist (resolved to ${full})`)
    }
    return full
  }
  const conventional = path.join(path.dirname(entry), 'dsu.transformers')
  return fs.existsSync(conventional) && fs.statSync(conventional).isDirectory() ? conventional : null
}

/**
 * What maps the state, in order: the given transformer file, the given
 * transformers directory, and — when `conventional` — dsu.transform.js, else
 * dsu.transformers/ beside the entry. `dsu upgrade` and `dsu check` agree on it.
 */
export function resolveTransformation(
  given: { transformer?: string | null; transformers?: string | null },
  entry: string,
  conventional: boolean,
): TransformerChoice | null {
  if (given.transformer) return fileChoice(resolveTransformer(given.transformer, entry)!)
  if (given.transformers) return { kind: 'chain', path: resolveTransformersDir(given.transformers, entry)! }
  if (!conventional) return null
  return conventionalTransformer(entry)
}

/** dsu.transform.js beside the entry, else dsu.transformers/, else none. */
export function conventionalTransformer(entry: string): TransformerChoice | null {
  const file = resolveTransformer(null, entry)
  if (file) return { kind: 'file', path: file }
  const dir = resolveTransformersDir(null, entry)
  return dir ? { kind: 'chain', path: dir } : null
}

/** dsu.transform.js beside the entry (restores from an older version's state: no chains there). */
export function conventionalFile(entry: string): TransformerChoice | null {
  const file = resolveTransformer(null, entry)
  return file ? { kind: 'file', path: file } : null
}
