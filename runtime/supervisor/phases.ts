// The phases of an upgrade, in the order they run (DESIGN.md §4). The one list:
// the state machine (upgrade.ts), the journal's columns (journal/), the
// progress display and the deadlines (`--timeout`) all read it from here.
//   spawn     new version boots, loads its transformer, reaches its first state()
//   precopy   only with pre-copy roots: the old version streams them while it serves
//   quiesce   old version stops and waits for in-flight work         ┐
//   transfer  old version streams its roots, new one decodes them    │
//   transform new version applies the transformer                    │ the pause
//   init      new version runs the init code after its state() calls │
//             resolve, until it re-binds its listeners or calls ready()
//   ready     new version binds the inherited listening sockets      ┘
//   commit    old version moves its connections and exits (point of no return)
export const PHASES = ['spawn', 'precopy', 'quiesce', 'transfer', 'transform', 'init', 'ready', 'commit'] as const

export type Phase = (typeof PHASES)[number]

export function isPhase(value: unknown): value is Phase {
  return typeof value === 'string' && (PHASES as readonly string[]).includes(value)
}
