// How a process that loads TypeScript gets a loader, with no flags from the
// user. Decided here, per spawn, for every program process (first start,
// upgrades, restarts, rollbacks) and for `dsu check`'s worker, in this order:
//   1. the user already loads TypeScript (a --node-arg such as --import=tsx,
//      or NODE_OPTIONS): nothing is added, so no loader runs twice;
//   2. tsx is installed for the entry's project: `--import=<its loader>` as an
//      absolute file URL, resolved from the entry's directory the way the
//      program's own imports resolve, so it works wherever dsu is installed;
//   3. the running Node strips types itself (22.18+/23.6+ by default; 22.6–23.5
//      behind --experimental-strip-types);
//   4. otherwise the spawn is refused before it happens with DSU_ERR_TYPESCRIPT.
// tsx comes before Node's own stripping: a project that installed it expects
// what tsx supports (enums, `.js` specifiers naming `.ts` files, tsconfig paths).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { DsuError } from '../errors.js'

const TYPESCRIPT = /\.[cm]?ts$/
/** A chain link in a transformers directory (see transformers/chain.ts). */
const LINK = /^.+?--.+\.[cm]?ts$/
/** Flags that load a TypeScript loader, or turn on Node's own support. */
const LOADER_FLAG = /^(?:--import|--loader|--experimental-loader|--require|-r)(?:=(.*))?$/
const LOADER_NAME = /(?:^|[/@\\])(?:tsx|ts-node|swc-node|esbuild-register|esbuild-kit)(?:[/\\@]|$)/
const NATIVE_FLAG = /^--experimental-(?:strip|transform)-types$/

export const isTypeScript = (file: string): boolean => TYPESCRIPT.test(file)

/** What the running Node can do, injectable for tests. */
export interface NodeRuntime {
  /** `process.version`, e.g. v22.12.0. */
  version: string
  /** `process.features.typescript`: 'strip' or 'transform' when on; false or absent otherwise. */
  typescript: string | boolean | undefined
  /** `NODE_OPTIONS`, which every spawned process inherits. */
  nodeOptions: string | undefined
}

export interface LoaderRequest {
  entry: string
  /** What else the process imports: a transformer file (`file#export` allowed), a transformers directory. */
  modules?: Array<string | null | undefined>
  /** The user's --node-arg flags. */
  nodeArgs?: string[]
}

export const currentRuntime = (): NodeRuntime => ({
  version: process.version,
  typescript: (process.features as { typescript?: string | boolean }).typescript,
  nodeOptions: process.env.NODE_OPTIONS,
})

/** The node flags for a process: a TypeScript loader when one is needed, then the user's flags. */
export function nodeArgsFor(request: LoaderRequest, runtime: NodeRuntime = currentRuntime(), findTsx: (from: string) => string | null = tsxLoaderUrl): string[] {
  const userArgs = request.nodeArgs ?? []
  const files = typescriptFiles(request)
  if (files.length === 0 || loadsTypeScript([...userArgs, ...(runtime.nodeOptions?.split(/\s+/) ?? [])])) return userArgs
  for (const from of new Set([request.entry, ...files])) {
    const url = findTsx(from)
    if (url) return [`--import=${url}`, ...userArgs]
  }
  const native = nativeArgs(runtime)
  if (native) return [...native, ...userArgs]
  const first = files[0]!
  const project = projectDir(request.entry)
  throw new DsuError('DSU_ERR_TYPESCRIPT',
    `cannot ${first === request.entry ? 'run' : 'load'} ${path.basename(first)}: Node ${runtime.version} has no TypeScript support and tsx is not installed in ${project}; ` +
    'fix: npm install --save-dev tsx (or use Node >= 22.18)')
}

/** The TypeScript files among the entry and the modules it will load. */
function typescriptFiles(request: LoaderRequest): string[] {
  const files = isTypeScript(request.entry) ? [request.entry] : []
  for (const given of request.modules ?? []) {
    if (!given) continue
    const file = given.replace(/#[^/\\]*$/, '')
    let names: string[] | null = null
    try {
      if (fs.statSync(file).isDirectory()) names = fs.readdirSync(file)
    } catch {
      // missing: whoever resolved it reports that
    }
    if (names) files.push(...names.filter((n) => LINK.test(n)).sort().map((n) => path.join(file, n)))
    else if (isTypeScript(file)) files.push(file)
  }
  return files
}

/** Whether these flags already load a TypeScript loader (or Node's own support). */
export function loadsTypeScript(args: string[]): boolean {
  return args.some((arg, i) => {
    if (NATIVE_FLAG.test(arg)) return true
    const m = LOADER_FLAG.exec(arg)
    if (!m) return false
    const value = m[1] ?? args[i + 1] ?? ''
    return LOADER_NAME.test(value)
  })
}

/** Node's own type stripping: [] when on, the flag that turns it on, or null when this Node has none. */
function nativeArgs(runtime: NodeRuntime): string[] | null {
  if (runtime.typescript) return []
  const [major = 0, minor = 0] = runtime.version.replace(/^v/, '').split('.').map(Number)
  return major > 22 || (major === 22 && minor >= 6) ? ['--experimental-strip-types'] : null
}

/**
 * tsx's loader (what `--import tsx` would load) as seen from `from`, as a file
 * URL; null when tsx is not installed there. Its package.json is exported, so
 * a require-resolve of it finds the same copy an import from `from` would.
 */
export function tsxLoaderUrl(from: string): string | null {
  let manifest: string
  try {
    manifest = createRequire(path.resolve(from)).resolve('tsx/package.json')
  } catch {
    return null
  }
  try {
    const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }
    const target = importTarget(pkg.exports?.['.'])
    return target ? pathToFileURL(path.join(path.dirname(manifest), target)).href : null
  } catch {
    return null
  }
}

/** The file an `import` of a package's "." export loads (a string, or `import`/`default` conditions). */
function importTarget(exported: unknown): string | null {
  if (typeof exported === 'string') return exported
  if (typeof exported !== 'object' || exported === null) return null
  const conditions = exported as Record<string, unknown>
  return importTarget(conditions.import) ?? importTarget(conditions.node) ?? importTarget(conditions.default)
}

/** The nearest directory above the entry with a package.json: where `npm install` goes. */
function projectDir(entry: string): string {
  const start = path.dirname(path.resolve(entry))
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) return start
  }
}
