// Marked state: the roots a program names with state(name, init). On a cold
// start (or without a supervisor) a root is init()'s value; in a successor it
// is the old version's value after the transformer ran.
import { DsuError } from '../errors.js'
import { describeRoot, type RootManifest } from '../protocol.js'
import { hasRegistrations, NULL_PROTO_TAG } from '../transfer/registry.js'

const marked = new Map<string, unknown>()
const precopyRoots = new Set<string>()

export interface StateOptions {
  /**
   * Stream this root while the program still serves, then send only what
   * changed: a shorter pause for a large Map. The root must stay a Map with
   * primitive keys, its entries must not share objects, and the program must
   * not keep an entry's reference across turns of the event loop (get it
   * again from the Map each time): a change through a reference taken before
   * the upgrade began is not seen. See README, "Pre-copy".
   */
  precopy?: boolean
}
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

/** The roots marked for pre-copy that are Maps now, by name. */
export function precopyMaps(): Map<string, Map<unknown, unknown>> {
  const out = new Map<string, Map<unknown, unknown>>()
  for (const name of precopyRoots) {
    const value = marked.get(name)
    // Only a plain Map: tracking replaces its methods, which would bypass a
    // subclass's overrides or the program's own. Others are copied in the pause.
    if (value instanceof Map && Object.getPrototypeOf(value) === Map.prototype && Reflect.ownKeys(value).length === 0) out.set(name, value)
  }
  return out
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
  if (options.precopy) precopyRoots.add(name)
  return value
}

/**
 * Names, kinds and sizes of the marked roots, and the registered classes and
 * types they hold: what pre-flight checks, no values. Finding the classes
 * walks the roots (while the program still serves), only in programs that
 * registered any.
 */
export async function manifest(): Promise<RootManifest[]> {
  const precopied = precopyMaps()
  // The walker loads on use: a program that registers nothing never needs it.
  const validate = hasRegistrations() ? await import('../transfer/validate.js') : null
  return [...marked].map(([name, value]) => ({
    ...describeRoot(name, value),
    ...(precopied.has(name) ? { precopy: true } : {}),
    ...(validate ? registeredIn(value, validate) : {}),
  }))
}

function registeredIn(value: unknown, { tagsOf, Walker }: typeof import('../transfer/validate.js')): { classes?: string[]; types?: string[] } {
  const walker = new Walker({ serialize: false })
  try {
    walker.walk(value) // a refused value fails the transfer later, with its path
  } catch {
    // Too deep to walk here: the transfer refuses it with a clear error.
  }
  const classes = new Set<string>()
  const types = new Set<string>()
  for (const tag of tagsOf(walker.takeMarks())) if (tag !== NULL_PROTO_TAG) (tag.startsWith('c:') ? classes : types).add(tag.slice(2))
  return { ...(classes.size ? { classes: [...classes] } : {}), ...(types.size ? { types: [...types] } : {}) }
}
