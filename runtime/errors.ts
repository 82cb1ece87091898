// The one catalogue of errors a user can see. Every entry has a stable code, a
// message that says what failed, and a hint that says what to do. Errors cross
// process boundaries (program -> supervisor -> CLI), so they are recognised by
// `code`, never by `instanceof`; `toWire`/`fromWire` carry them over IPC.

/** Exit codes a deploy pipeline can branch on (README, "Exit codes"). */
export const EXIT = {
  ok: 0,
  /** A bug in dsu, or a failure with no better code. */
  internal: 1,
  usage: 2,
  noSupervisor: 3,
  refused: 4,
  rolledBack: 5,
  checkFailed: 6,
  /** A checkpoint or the journal could not be read or written: a file or the disk needs attention. */
  checkpoint: 7,
  /** The program died (during an upgrade, before the new version held its state; or during a command): nothing serves until it is restarted. */
  programDied: 8,
} as const

/**
 * Every error a user can see: the hint that says what to do, and the exit
 * code of a `dsu` command that fails with it (cli/exit-codes.ts reads it here).
 */
export const errors = {
  DSU_ERR_USAGE: { exit: EXIT.usage, hint: 'Wrong arguments. Run `dsu --help` for the usage.' },
  DSU_ERR_ENTRY_NOT_FOUND: { exit: EXIT.usage, hint: 'Check the path; a directory must hold package.json "main" or index.js/server.js (or .mjs, .ts, .mts).' },
  DSU_ERR_TYPESCRIPT: { exit: EXIT.usage, hint: 'Install tsx in the project (npm install --save-dev tsx), or use a Node that runs TypeScript itself (>= 22.18).' },
  DSU_ERR_TRANSFORMER_NOT_FOUND: { exit: EXIT.usage, hint: 'Check the --transformer path.' },
  DSU_ERR_TRANSFORMER_INVALID: { exit: EXIT.internal, hint: 'A transformer module must default-export a function (oldRoots, { from, to }) => newRoots.' },
  DSU_ERR_TRANSFORM_FAILED: { exit: EXIT.internal, hint: 'The transformer threw; fix it and upgrade again. The old version kept serving.' },
  DSU_ERR_NO_SUPERVISOR: { exit: EXIT.noSupervisor, hint: 'Start the program with `dsu run <entry>`; run dsu from the directory `dsu run` was started in (or below it), name the app, or pass --state-dir.' },
  DSU_ERR_APP_AMBIGUOUS: { exit: EXIT.usage, hint: 'Several apps run from here; name one (`dsu upgrade <name> --to …`) or pass --state-dir.' },
  DSU_ERR_STATE_DIR: { exit: EXIT.usage, hint: 'The state directory must be yours, mode 0700 and not writable by others; fix its owner and mode, or pass another --state-dir.' },
  DSU_ERR_SUPERVISOR_RUNNING: { exit: EXIT.refused, hint: 'Another `dsu run` already owns this state directory; stop it or pass another --state-dir.' },
  DSU_ERR_ADOPT_FAILED: { exit: EXIT.refused, hint: 'A program left running by a supervisor that died waits in this state directory, and this dsu run could not re-adopt it; the message says why and what to do. Never start a second copy beside it.' },
  DSU_ERR_UPGRADE_IN_PROGRESS: { exit: EXIT.refused, hint: 'Wait for the running upgrade to commit or roll back, then try again.' },
  DSU_ERR_UNSERIALIZABLE: { exit: EXIT.internal, hint: 'Marked state may hold plain data, Map, Set, Date, BigInt, RegExp, typed arrays, and instances of classes registered with registerClass / values of types registered with registerType; keep functions and sockets out of it.' },
  DSU_ERR_REGISTRATION: { exit: EXIT.internal, hint: 'registerClass(cls, { name }) needs a class and a name used once; registerType(name, { isApplicable, serialize, deserialize }) needs three functions and a name used once.' },
  DSU_ERR_CLASS_MISSING: { exit: EXIT.checkpoint, hint: 'The new version must registerClass every class the running version holds in marked state, under the same name, or the transformer must map the old name with renameClass(old, new).' },
  DSU_ERR_TYPE_MISSING: { exit: EXIT.checkpoint, hint: 'The new version must registerType every type the running version holds in marked state, under the same name, before its first state() call.' },
  DSU_ERR_SPAWN_FAILED: { exit: EXIT.internal, hint: 'The new version exited or threw before asking for its state; its last stderr lines, shown with the rollback, say why (or run it alone: `node <entry>`).' },
  DSU_ERR_SUCCESSOR_EXITED: { exit: EXIT.internal, hint: 'The new version exited during the upgrade; its last stderr lines, shown with the rollback, say why.' },
  DSU_ERR_QUIESCE_TIMEOUT: { exit: EXIT.internal, hint: 'A request, transaction or connection did not finish before the deadline; raise --timeout or find the slow work.' },
  DSU_ERR_PHASE_TIMEOUT: { exit: EXIT.internal, hint: 'A phase did not finish before the deadline; raise --timeout or look at the new version\'s output.' },
  DSU_ERR_READY_TIMEOUT: { exit: EXIT.internal, hint: 'The new version did not re-bind its listeners or call ready() before the deadline.' },
  DSU_ERR_STATE_STREAM: { exit: EXIT.internal, hint: 'The state stream between the two versions broke; the old version kept serving.' },
  DSU_ERR_OLD_VERSION_EXITED: { exit: EXIT.programDied, hint: 'The running version died during the upgrade, before the new one held its state: nothing serves until dsu run restarts it from the latest checkpoint (--restart) or you start it again.' },
  DSU_ERR_PROGRAM_EXITED: { exit: EXIT.programDied, hint: 'The supervised program exited; its output above says why.' },
  DSU_ERR_CONTROL_MESSAGE: { exit: EXIT.usage, hint: 'A control message was malformed; use the `dsu` CLI of the same version as the supervisor.' },
  DSU_ERR_STATE_NAME: { exit: EXIT.internal, hint: 'state(name, init) needs a non-empty string name and an init function, and a name may be marked once.' },
  DSU_ERR_TRANSFORM_RULE: { exit: EXIT.internal, hint: 'A transformer rule does not fit the state it was applied to; the message names the path, the rule and the version pair.' },
  DSU_ERR_UNDECLARED_ROOT: { exit: EXIT.internal, hint: 'The new version neither marks nor drops these roots; drop them in the transformer or mark them with state().' },
  DSU_ERR_CHAIN_MISSING_LINK: { exit: EXIT.internal, hint: 'Add a transformer for the missing version pair to the transformers directory.' },
  DSU_ERR_VALIDATION: { exit: EXIT.internal, hint: 'Transformed state does not match the schema the new version declared; fix the transformer or the schema.' },
  DSU_ERR_JOURNAL: { exit: EXIT.checkpoint, hint: 'The journal could not be read or written; the program keeps running. Check the state directory\'s disk and permissions.' },
  DSU_ERR_CHECKPOINT_NOT_FOUND: { exit: EXIT.usage, hint: 'List checkpoints with `dsu checkpoint --list`; `--restore latest` takes the newest.' },
  DSU_ERR_CHECKPOINT_CORRUPT: { exit: EXIT.checkpoint, hint: 'The checkpoint is damaged or unsafe (bad metadata, checksum mismatch, not a regular file, or state the program cannot decode); it was not loaded. Restore another one; `--restore latest` skips bad ones.' },
  DSU_ERR_CHECKPOINT_WRITE: { exit: EXIT.checkpoint, hint: 'The checkpoint could not be written (disk full, permissions); nothing of it was kept and the program kept serving. Free space in the state directory or fix its permissions, then checkpoint again.' },
  DSU_ERR_CRASH_LOOP: { exit: EXIT.internal, hint: 'The program kept crashing right after each restart; fix the crash (its output above says why), then start it again.' },
  DSU_ERR_NO_REVERSE_TRANSFORMER: { exit: EXIT.internal, hint: 'Declare a reverse transformer (B → A): export `reverse` from the transformer, or put dsu.reverse.js beside the current entry.' },
  DSU_ERR_NO_PREVIOUS_VERSION: { exit: EXIT.refused, hint: 'There is no committed upgrade to go back from; `dsu history` lists what happened.' },
  DSU_ERR_CLUSTER: { exit: EXIT.usage, hint: 'node:cluster cannot run under dsu run: its workers would not be supervised or upgraded. Remove cluster.fork() and start the program with `dsu run --workers N` (or --workers auto), which runs N supervised processes sharing the listening sockets.' },
  DSU_ERR_WORKER_THREAD_LISTEN: { exit: EXIT.usage, hint: 'A worker thread\'s listen() cannot be handed to a new version. Listen in the main thread and pass work to threads, or run several processes with `dsu run --workers N`.' },
  DSU_ERR_WORKER_ROLLED_BACK: { exit: EXIT.internal, hint: 'Another worker of an atomic upgrade rolled back, so every worker rolled back with it; its error, in the message, says why. Fix it and upgrade again.' },
  DSU_ERR_STATE_FILE: { exit: EXIT.checkpoint, hint: 'The state file could not be used: missing, not a regular file, not JSON, not the shape `dsu state export` writes, or holding what marked state cannot. Nothing was loaded; export it again or fix the file.' },
  DSU_ERR_SOCKET_IO: { exit: EXIT.internal, hint: 'carrySocketIo(io) needs a socket.io Server (4.6+) created with { connectionStateRecovery: {} } and the default in-memory adapter.' },
  DSU_ERR_INTERNAL: { exit: EXIT.internal, hint: 'This is a bug in dsu; please report it with the output above.' },
} as const satisfies Record<string, { exit: number; hint: string }>

export type ErrorCode = keyof typeof errors

/** Code → hint, as the runtime has always exported it. */
export const catalogue = Object.fromEntries(Object.entries(errors).map(([code, { hint }]) => [code, hint])) as { readonly [C in ErrorCode]: (typeof errors)[C]['hint'] }

/** The exit code of a command that fails with `code`. */
export function exitCodeOf(code: ErrorCode): number {
  return (errors[code] ?? errors.DSU_ERR_INTERNAL).exit
}

export interface WireError {
  code: ErrorCode
  message: string
  phase?: string
}

export class DsuError extends Error {
  readonly code: ErrorCode
  readonly hint: string
  phase?: string

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; phase?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DsuError'
    this.code = code
    this.hint = catalogue[code]
    if (options?.phase) this.phase = options.phase
  }
}

const marker = Symbol.for('dsu.error')
Object.defineProperty(DsuError.prototype, marker, { value: true })

export function isDsuError(value: unknown, code?: ErrorCode): value is DsuError {
  if (typeof value !== 'object' || value === null) return false
  const v = value as { code?: unknown; [marker]?: unknown }
  if (v[marker] !== true && !(typeof v.code === 'string' && v.code in catalogue)) return false
  return code === undefined || v.code === code
}

export function toWire(error: unknown, fallback: ErrorCode = 'DSU_ERR_INTERNAL'): WireError {
  if (isDsuError(error)) {
    const wire: WireError = { code: error.code, message: error.message }
    if (error.phase) wire.phase = error.phase
    return wire
  }
  const message = error instanceof Error ? error.message : String(error)
  return { code: fallback, message }
}

export function fromWire(wire: WireError): DsuError {
  // Own keys only: a program's reply naming 'toString' is no catalogue entry.
  const code: ErrorCode = typeof wire.code === 'string' && Object.hasOwn(catalogue, wire.code) ? wire.code : 'DSU_ERR_INTERNAL'
  return new DsuError(code, wire.message, wire.phase ? { phase: wire.phase } : undefined)
}
