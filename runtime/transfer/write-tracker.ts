// Which entries of a Map root may have changed since tracking began, for
// pre-copy. Conservative by design: an entry counts as changed when it is
// written, deleted, or READ (get() hands out a reference the program may
// mutate later), and any call that hands out every value (iteration,
// forEach) marks the whole Map. What it cannot see — a reference taken
// before tracking began and mutated afterwards — is the contract a root
// accepts by opting in (README, "Pre-copy").
const proto = Map.prototype

export interface Tracker {
  /** Keys touched since the last take(). */
  readonly dirty: Set<unknown>
  /** True once a call handed out every value since the last take(). */
  readonly all: boolean
  /** Returns what was touched and starts a new round. */
  take(): { keys: Set<unknown>; all: boolean }
  /** Removes the instrumentation; the Map is a plain Map again. */
  untrack(): void
}

let suspended = 0

/** Runs `fn` without marking anything (the sender's own reads). */
export function untracked<T>(fn: () => T): T {
  suspended++
  try {
    return fn()
  } finally {
    suspended--
  }
}

const HANDS_OUT_ALL = ['entries', 'values', 'forEach', Symbol.iterator] as const
const OWN = ['get', 'set', 'delete', 'clear', ...HANDS_OUT_ALL] as const

export function track(map: Map<unknown, unknown>): Tracker {
  let dirty = new Set<unknown>()
  let all = false
  const own = map as unknown as Record<string | symbol, unknown>
  own.get = function (key: unknown) {
    if (suspended === 0) dirty.add(key)
    return proto.get.call(this, key)
  }
  own.set = function (key: unknown, value: unknown) {
    if (suspended === 0) dirty.add(key)
    return proto.set.call(this, key, value)
  }
  own.delete = function (key: unknown) {
    if (suspended === 0) dirty.add(key)
    return proto.delete.call(this, key)
  }
  own.clear = function () {
    if (suspended === 0) for (const key of proto.keys.call(this)) dirty.add(key)
    return proto.clear.call(this)
  }
  for (const name of HANDS_OUT_ALL) {
    const original = proto[name] as (...args: unknown[]) => unknown
    own[name] = function (this: Map<unknown, unknown>, ...args: unknown[]) {
      if (suspended === 0) all = true
      return original.apply(this, args)
    }
  }
  return {
    get dirty() { return dirty },
    get all() { return all },
    take() {
      const round = { keys: dirty, all }
      dirty = new Set()
      all = false
      return round
    },
    untrack() {
      for (const name of OWN) delete own[name]
    },
  }
}
