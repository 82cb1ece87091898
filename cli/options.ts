// The options of run, upgrade and check, normalised once each (issue 11;
// execa's normalizeOptions is the model): one set of defaults, and one
// function per command that turns what the user typed into what the
// supervisor or the control request takes — entry, version, state dir,
// durations and their bounds, transformer paths. Both of `dsu run`'s argument
// readers (run-args.ts without yargs, main.ts with it) take their defaults
// from RUN_DEFAULTS, so they cannot drift apart. Errors are the ones the
// functions called here always threw (resolveEntry, resolveTransformation…).
import path from 'node:path'
import { DEFAULT_DEADLINE_MS } from '../runtime/supervisor/deadlines.js'
import { DEFAULT_RESTART } from '../runtime/supervisor/restart-policy.js'
import { resolveEntry, resolveTransformation, versionOf } from '../runtime/supervisor/entry.js'
import { defaultStateBase, operatorDir, stateDirIn } from '../runtime/supervisor/state-dir.js'
import type { SupervisorOptions } from '../runtime/supervisor/supervisor.js'
import type { TransformerChoice } from '../runtime/transformer-choice.js'
import type { RunArgs } from './commands/run.js'

/** `dsu run`'s defaults, for both of its argument readers. */
export const RUN_DEFAULTS = {
  stopTimeout: 10_000,
  restart: 'no',
  /** With --workers > 1 and no --restart: a crashed worker restarts. */
  restartWithWorkers: 'on-failure',
  restartDelay: DEFAULT_RESTART.delayMs,
  maxRestarts: DEFAULT_RESTART.maxRestarts,
  keepCheckpoints: 5,
  workers: 1,
} as const

/** `dsu check`'s default number of sample entries per root. */
export const CHECK_DEFAULTS = { samples: 3 } as const

/** `dsu run`: the supervisor's options, all but its log. */
export function normalizeRunOptions(args: RunArgs, env: NodeJS.ProcessEnv = process.env): Omit<SupervisorOptions, 'log'> {
  // Paths resolve against the operator's directory as they named it, so
  // `current/server.js` keeps meaning the current release after a deploy.
  const here = operatorDir()
  const entry = resolveEntry(args.entry, here)
  const given = args.stateDir ?? env.DSU_STATE_DIR
  const stateDir = given ? path.resolve(here, given) : stateDirIn(defaultStateBase(here), args.name)
  return {
    entry,
    configuredEntry: path.resolve(here, args.entry),
    cwd: here,
    version: args.versionLabel ?? versionOf(entry),
    stateDir,
    ...(args.name === undefined ? {} : { name: args.name }),
    timeoutMs: args.timeout?.all ?? DEFAULT_DEADLINE_MS,
    deadlines: args.timeout?.deadlines,
    stopTimeoutMs: args.stopTimeout,
    nodeArgs: args.nodeArg,
    restore: args.restore,
    restart: { ...DEFAULT_RESTART, mode: args.restart, delayMs: args.restartDelay, maxRestarts: args.maxRestarts },
    checkpointEveryMs: args.checkpointEvery ?? 0,
    keepCheckpoints: args.keepCheckpoints,
    workers: args.workers,
  }
}

/**
 * `dsu upgrade`: the entry and the transformer paths, absolute against the
 * operator's directory (the supervisor resolves them from its own, which a
 * deploy may have moved); the entry's existence is the supervisor's to check.
 */
export function normalizeUpgradeTarget(args: { to: string; transformer?: string; transformers?: string }): { entry: string; transformer: string | null; transformers: string | null } {
  const here = operatorDir()
  return {
    entry: path.resolve(here, args.to),
    transformer: args.transformer ? path.resolve(here, args.transformer) : null,
    transformers: args.transformers ? path.resolve(here, args.transformers) : null,
  }
}

/** `dsu check`: the entry (it must exist), what maps the state (the conventional files too), and the version label. */
export function normalizeCheckTarget(args: { to: string; transformer?: string; transformers?: string; versionLabel?: string }): { entry: string; transformer: TransformerChoice | null; version: string } {
  const entry = resolveEntry(args.to, operatorDir())
  const transformer = resolveTransformation(args, entry, true)
  return { entry, transformer, version: args.versionLabel ?? versionOf(entry) }
}
