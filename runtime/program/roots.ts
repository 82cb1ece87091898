// Marked state: the roots a program names with state(name, init). On a cold
// start (or without a supervisor) a root is init()'s value; in a successor it
// is the old version's value after the transformer ran.
import { DsuError } from '../errors.js'
import { describeRoot, type RootManifest } from '../protocol.js'
import { hasRegistrations, NULL_PROTO_TAG, registered } from '../transfer/registry.js'

const marked = new Map<string, unknown>()
const precopyChoice = new Map<string, boolean>()

export interface StateOptions {
  /**
   * Pre-copy: stream this root while the program still serves and send only
   * the entries that changed in the pause. By default every Map, Set, array
   * or plain object root with at least PRECOPY_MIN entries is pre-copied;
   * `true` pre-copies it at any size, `false` never (copied in the pause).
   * No contract: changes made any way, through any reference, are seen. See
   * README, "Pre-copy".
   */
  precopy?: boolean
}

/** Entries from which a collection root is pre-copied by default: below, the pause copies it as fast. */
export const PRECOPY_MIN = 1000
let restoredRoots: Promise<Map<string, unknown>> | null = null
let firstCall: (() => Promise<void>) | null = null

/** The roots the checkpoint captures, by name. */
export function markedRoots(): ReadonlyMap<string, unknown> {
  return marked
}

/** Successor only: where transferred roots come from, and the boot signal. */
export function restoreFrom(roots: Promise<Map<string, unknown>>, onFirstCall: () => Promise<void>): void {
  restoredRoots = roots
  firstCall = onFirstCall
}

/**
 * The roots to pre-copy now, by name: collections (a Map, Set, array or plain
 * object, not a subclass) the program did not opt out, with PRECOPY_MIN
 * entries or more unless it opted in. $DSU_PRECOPY=off turns pre-copy off.
 */
export function precopyRoots(): Map<string, object> {
  const out = new Map<string, object>()
  if (process.env.DSU_PRECOPY === 'off') return out
  for (const [name, value] of marked) {
    const choice = precopyChoice.get(name)
    const size = collectionSize(value)
    if (choice === false || size === undefined) continue
    // Entry-by-entry copies rebuild a plain object; a null-prototype root
    // (express-session's store) goes whole, where the codec keeps its prototype.
    if (Object.getPrototypeOf(value) === null) continue
    if (choice === true || size >= PRECOPY_MIN) out.set(name, value as object)
  }
  return out
}

// Entries of a Map, Set, array or plain object (exactly those: the kinds the
// codec sends entry by entry); undefined for anything else.
function collectionSize(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto === Map.prototype) return (value as Map<unknown, unknown>).size
  if (proto === Set.prototype) return (value as Set<unknown>).size
  if (proto === Array.prototype) return (value as unknown[]).length
  if (proto === Object.prototype || proto === null) return Object.keys(value).length
  return undefined
}

export async function state<T>(name: string, init: () => T | Promise<T>, options: StateOptions = {}): Promise<T> {
  if (typeof name !== 'string' || name === '') {
    throw new DsuError('DSU_ERR_STATE_NAME', `state(name, init): name must be a non-empty string, got ${typeof name}`)
  }
  if (typeof init !== 'function') {
    throw new DsuError('DSU_ERR_STATE_NAME', `state("${name}", init): init must be a function, got ${typeof init}`)
  }
  if (marked.has(name)) {
    throw new DsuError('DSU_ERR_STATE_NAME', `state("${name}") was already marked; mark each root once and share the value`)
  }
  marked.set(name, undefined)
  let value: T
  if (restoredRoots) {
    await firstCall?.()
    const roots = await restoredRoots
    value = roots.has(name) ? (roots.get(name) as T) : await init()
  } else {
    value = await init()
  }
  marked.set(name, value)
  if (options.precopy !== undefined) precopyChoice.set(name, Boolean(options.precopy))
  return value
}

/**
 * Names, kinds and sizes of the marked roots, and the registered classes and
 * types they hold: what pre-flight checks, no values. Finding the classes
 * walks the roots (while the program still serves), only in programs that
 * registered any.
 */
export async function manifest(): Promise<RootManifest[]> {
  const precopied = precopyRoots()
  // The walker loads on use: a program that registers nothing never needs it.
  const validate = hasRegistrations() ? await import('../transfer/validate.js') : null
  return [...marked].map(([name, value]) => ({
    ...describeRoot(name, value),
    ...(precopied.has(name) ? { precopy: true } : {}),
    ...(validate ? registeredIn(value, validate) : {}),
  }))
}

function registeredIn(value: unknown, { tagsOf, Walker }: typeof import('../transfer/validate.js')): { classes?: string[]; types?: string[] } {
  // Once every registered name was met the rest of the root cannot add one:
  // the walk stops there (often at the first record) instead of visiting,
  // and keeping an identity entry for, every object of a large root.
  const { classes: names, types: typeNames } = registered()
  const walker = new Walker({ serialize: false, stopAfter: names.length + typeNames.length })
  try {
    walker.walk(value) // a refused value fails the transfer later, with its path
  } catch {
    // Every registered name met (WALK_COMPLETE), or too deep to walk here:
    // the transfer refuses that with a clear error.
  }
  const classes = new Set<string>()
  const types = new Set<string>()
  for (const tag of tagsOf(walker.takeMarks())) if (tag !== NULL_PROTO_TAG) (tag.startsWith('c:') ? classes : types).add(tag.slice(2))
  return { ...(classes.size ? { classes: [...classes] } : {}), ...(types.size ? { types: [...types] } : {}) }
}
