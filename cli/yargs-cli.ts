// The `dsu` command's full parser (yargs): every form the plain readers in
// cli/main.ts do not take, with help, aliases and yargs' own errors. Runs on import.
import os from 'node:os'
import { DsuError } from '../runtime/errors.js'
import { parseDuration } from './duration.js'
import { MAX_DEADLINE_MS } from '../runtime/supervisor/deadlines.js'
import { joinNodeArgs, nodeArgList } from './node-arg.js'
import { fail } from './output.js'
import { validateAppName } from '../runtime/supervisor/state-dir.js'
import { parseTimeouts, type Timeouts } from './timeouts.js'
import { leanSupervisor } from './lean-supervisor.js'
import { CHECK_DEFAULTS, RUN_DEFAULTS } from './options.js'

const TIMEOUT_HELP = 'deadline of each upgrade phase: 10s, or per phase: precopy=120s,quiesce=5s (pre-copy: longest time without progress; plain numbers are ms)'

// Commands load on use: `dsu run` stays a long-lived supervisor and should not
// carry the modules of the other commands (spinner, check worker…) in memory.
const run = async (a: Parameters<typeof import('./commands/run.js').run>[0]) => {
  await leanSupervisor(a.restore)
  return (await import('./commands/run.js')).run(a)
}
const upgrade = async (a: Parameters<typeof import('./commands/upgrade.js').upgrade>[0]) => (await import('./commands/upgrade.js')).upgrade(a)
const status = async (a: Parameters<typeof import('./commands/status.js').status>[0]) => (await import('./commands/status.js')).status(a)
const stop = async (a: Parameters<typeof import('./commands/status.js').stop>[0]) => (await import('./commands/status.js')).stop(a)
const history = async (a: Parameters<typeof import('./commands/history.js').history>[0]) => (await import('./commands/history.js')).history(a)
const checkpoint = async (a: Parameters<typeof import('./commands/checkpoint.js').checkpoint>[0]) => (await import('./commands/checkpoint.js')).checkpoint(a)
const rollback = async (a: Parameters<typeof import('./commands/rollback.js').rollback>[0]) => (await import('./commands/rollback.js')).rollback(a)
const stateCommand = async (a: Parameters<typeof import('./commands/state.js').state>[0]) => (await import('./commands/state.js')).state(a)
const checkCommand = async (a: Parameters<typeof import('./commands/check.js').checkCommand>[0]) => (await import('./commands/check.js')).checkCommand(a)

const MAX_WORKERS = 64

/** `--workers`: a count, or auto (one per core); NaN when it is neither. */
function workerCount(value: unknown): number {
  if (value === 'auto') return os.availableParallelism()
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN
  return n >= 1 && n <= MAX_WORKERS ? n : NaN
}

/** A wrong argument found by our own checks (yargs' own come without an error). */
class UsageError extends Error {}

/**
 * `--timeout` of run/upgrade/rollback, parsed once (cli/timeouts.ts). A bad one
 * is kept as its UsageError and thrown by check() below: yargs does not route
 * errors thrown by a coerce function to fail().
 */
const timeouts = (value: unknown): Timeouts | UsageError => {
  try {
    return parseTimeouts(value)
  } catch (error) {
    return new UsageError((error as Error).message)
  }
}

const finish = (code: number): void => {
  process.exitCode = code
}

// What node was given after the script (yargs' hideBin, for plain node).
const argv = joinNodeArgs(process.argv.slice(2))
await (await import('yargs')).default(argv)
  .scriptName('dsu')
  .usage('$0 <command> [options]\n\nLive upgrades for stateful Node.js servers.')
  .option('state-dir', { type: 'string', describe: 'state directory (default: .dsu/ where `dsu run` was started; other commands search upwards from here; also $DSU_STATE_DIR)' })
  .option('name', { type: 'string', describe: 'app name, when several apps run from one place (state in .dsu/apps/<name>/)' })
  .command('run <entry>', 'supervise a program in the foreground', (y) => y
    .positional('entry', { type: 'string', demandOption: true, describe: 'entry file, or a directory with package.json main / index.js / server.js' })
    .option('timeout', { type: 'string', coerce: timeouts, describe: `${TIMEOUT_HELP}; the default of upgrades (10s)` })
    .option('stop-timeout', { type: 'number', default: RUN_DEFAULTS.stopTimeout, describe: 'grace period of a stop before the program is killed, ms' })
    .option('version-label', { type: 'string', describe: 'version label (default: nearest package.json version)' })
    .option('node-arg', { type: 'string', default: [] as string[], coerce: nodeArgList, describe: 'extra node flag for program processes, one per --node-arg (repeatable; --node-arg --import=x works)' })
    .option('restore', { type: 'string', describe: 'start from a checkpoint (latest or an id) or from a state file written by `dsu state export` (a path ending in .json)' })
    .option('restart', { choices: ['no', 'on-failure', 'always'] as const, describe: 'restart the program when it dies (from the latest checkpoint); default: no, or on-failure with --workers > 1' })
    .option('workers', { type: 'string', default: String(RUN_DEFAULTS.workers), describe: 'program processes sharing the listening sockets, each with its own state: a number, or auto (one per core)' })
    .option('restart-delay', { type: 'number', default: RUN_DEFAULTS.restartDelay, describe: 'first restart delay, ms (doubles per crash, capped at 10 s)' })
    .option('max-restarts', { type: 'number', default: RUN_DEFAULTS.maxRestarts, describe: 'crashes within 60 s after which dsu gives up' })
    .option('checkpoint-every', { type: 'string', describe: 'take a checkpoint this often (500ms, 30s, 5m, 1h)' })
    .option('keep-checkpoints', { type: 'number', default: RUN_DEFAULTS.keepCheckpoints, describe: 'checkpoints kept on disk' }),
  async (argv) => finish(await run({
    entry: argv.entry as string, stateDir: argv.stateDir, name: argv.name, timeout: argv.timeout as Timeouts | undefined, stopTimeout: argv.stopTimeout,
    versionLabel: argv.versionLabel, nodeArg: argv.nodeArg as string[], restore: argv.restore,
    restart: argv.restart ?? (workerCount(argv.workers) > 1 ? RUN_DEFAULTS.restartWithWorkers : RUN_DEFAULTS.restart), restartDelay: argv.restartDelay, workers: workerCount(argv.workers), maxRestarts: argv.maxRestarts,
    checkpointEvery: argv.checkpointEvery === undefined ? undefined : parseDuration(argv.checkpointEvery)!,
    keepCheckpoints: argv.keepCheckpoints,
  })))
  .command('checkpoint [name]', 'snapshot the running program\'s state (it resumes at once)', (y) => y
    .option('list', { type: 'boolean', default: false, describe: 'list checkpoints instead' })
    .option('json', { type: 'boolean', default: false }),
  async (argv) => finish(await checkpoint({ json: argv.json, stateDir: argv.stateDir, name: argv.name, list: argv.list })))
  .command('upgrade [name]', 'upgrade the running program live', (y) => y
    .option('to', { type: 'string', demandOption: true, describe: 'new entry file or directory' })
    .option('transformer', { type: 'string', describe: 'transformer module (default: dsu.transform.js beside the new entry)' })
    .option('transformers', { type: 'string', describe: 'directory of <from>--<to>.js transformers to chain (default: dsu.transformers/ beside the new entry)' })
    .conflicts('transformer', 'transformers')
    .option('timeout', { type: 'string', coerce: timeouts, describe: `${TIMEOUT_HELP} (default: dsu run's)` })
    .option('version-label', { type: 'string', describe: 'version label of the new version' })
    .option('strategy', { choices: ['atomic', 'rolling'] as const, describe: 'with --workers > 1: atomic (default; all workers switch together, one version serves) or rolling (one worker at a time, the others serve)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  async (argv) => finish(await upgrade({
    to: argv.to, transformer: argv.transformer, transformers: argv.transformers, timeout: argv.timeout as Timeouts | undefined, json: argv.json,
    stateDir: argv.stateDir, name: argv.name, versionLabel: argv.versionLabel, strategy: argv.strategy,
  })))
  .command('rollback [name]', 'upgrade back to the previous version, live (needs a reverse transformer)', (y) => y
    .option('timeout', { type: 'string', coerce: timeouts, describe: `${TIMEOUT_HELP} (default: dsu run's)` })
    .option('strategy', { choices: ['atomic', 'rolling'] as const, describe: 'with --workers > 1: atomic (default) or rolling' })
    .option('json', { type: 'boolean', default: false }),
  async (argv) => finish(await rollback({ json: argv.json, stateDir: argv.stateDir, name: argv.name, timeout: argv.timeout as Timeouts | undefined, strategy: argv.strategy })))
  .command('check [name]', 'dry-run an upgrade\'s transformer and validators against a snapshot of the running state', (y) => y
    .option('to', { type: 'string', demandOption: true, describe: 'new entry file or directory' })
    .option('transformer', { type: 'string', describe: 'transformer module (default: dsu.transform.js beside the new entry)' })
    .option('transformers', { type: 'string', describe: 'directory of <from>--<to>.js transformers to chain' })
    .conflicts('transformer', 'transformers')
    .option('snapshot', { type: 'string', describe: 'use this checkpoint (id or latest) instead of taking one' })
    .option('version-label', { type: 'string', describe: 'version label of the new version' })
    .option('samples', { type: 'number', default: CHECK_DEFAULTS.samples, describe: 'entries per root to show before/after' })
    .option('json', { type: 'boolean', default: false }),
  async (argv) => finish(await checkCommand({
    to: argv.to, transformer: argv.transformer, transformers: argv.transformers, snapshot: argv.snapshot,
    versionLabel: argv.versionLabel, samples: argv.samples, json: argv.json, stateDir: argv.stateDir, name: argv.name,
  })))
  .command('state [action] [file]', 'show the running program\'s marked state (roots, counts, samples), or `state export [file]` it as superjson JSON', (y) => y
    .positional('action', { choices: ['export'] as const, describe: 'export: write the state as a superjson file (stdout without a file) for `dsu run --restore <file>`' })
    .positional('file', { type: 'string', describe: 'where export writes (default: stdout)' })
    .option('root', { type: 'string', describe: 'these roots only: a name or a comma-separated list' })
    .option('snapshot', { type: 'string', describe: 'read this checkpoint (id or latest) instead of taking one' })
    .option('samples', { type: 'number', default: 3, describe: 'entries per root to show' })
    .option('json', { type: 'boolean', default: false }),
  async (argv) => finish(await stateCommand({
    action: argv.action, file: argv.file, root: argv.root, snapshot: argv.snapshot, samples: argv.samples, json: argv.json, stateDir: argv.stateDir, name: argv.name,
  })))
  .command('status [name]', 'show the running program', (y) => y
    .option('json', { type: 'boolean', default: false }),
  async (argv) => finish(await status({ json: argv.json, stateDir: argv.stateDir, name: argv.name })))
  .command('history [name]', 'list recorded upgrades, newest first', (y) => y
    .option('limit', { type: 'number', default: 20, describe: 'how many rows to show' })
    .option('events', { type: 'boolean', default: false, describe: 'program starts, stops, crashes, restarts and checkpoints instead' })
    .option('json', { type: 'boolean', default: false }),
  async (argv) => finish(await history({ json: argv.json, stateDir: argv.stateDir, name: argv.name, limit: argv.limit, events: argv.events })))
  .command('stop [name]', 'stop the program gracefully and the supervisor with it', (y) => y
    .option('json', { type: 'boolean', default: false })
    .option('timeout', { type: 'number', describe: 'grace period before the program is killed, ms' }),
  async (argv) => finish(await stop({ json: argv.json, stateDir: argv.stateDir, name: argv.name, timeout: argv.timeout })))
  .check((argv) => {
    for (const [name, value] of Object.entries(argv)) {
      if (Array.isArray(value) && name !== '_' && name !== 'node-arg' && name !== 'nodeArg') throw new UsageError(`--${name} was given more than once`)
    }
    if (argv.name !== undefined) {
      try {
        validateAppName(String(argv.name))
      } catch (error) {
        throw new UsageError((error as Error).message)
      }
    }
    if (argv.workers !== undefined && !Number.isInteger(workerCount(argv.workers))) {
      throw new UsageError(`--workers must be auto or a whole number from 1 to ${MAX_WORKERS}`)
    }
    if (argv['checkpoint-every'] !== undefined && parseDuration(String(argv['checkpoint-every'])) === null) {
      throw new UsageError(`--checkpoint-every must be a duration such as 500ms, 30s, 5m or 1h, at most ${MAX_DEADLINE_MS} ms (about 24.8 days)`)
    }
    for (const name of ['keep-checkpoints', 'max-restarts'] as const) {
      const v = argv[name]
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) throw new UsageError(`--${name} must be a whole number ≥ 1`)
    }
    // run/upgrade/rollback's --timeout arrives parsed (an object); stop's is a number of ms.
    if (argv.timeout instanceof UsageError) throw argv.timeout
    for (const name of ['timeout', 'stop-timeout', 'limit', 'restart-delay'] as const) {
      const v = argv[name]
      if (name === 'timeout' && typeof v === 'object' && v !== null) continue
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) throw new UsageError(`--${name} must be a positive number${name === 'limit' ? '' : ' of milliseconds'}`)
      if (name !== 'limit' && typeof v === 'number' && v > MAX_DEADLINE_MS) throw new UsageError(`--${name} must be at most ${MAX_DEADLINE_MS} ms (about 24.8 days), the longest a timer can wait`)
    }
    return true
  })
  .demandCommand(1, 'name a command: run, upgrade, rollback, check, state, status, history, checkpoint or stop')
  .strict()
  .fail((message, error, y) => {
    if (error && !(error instanceof UsageError)) throw error
    const json = process.argv.includes('--json')
    if (!json) {
      y.showHelp()
      process.stderr.write('\n')
    }
    // Exit here: yargs would otherwise go on to run the command's handler.
    process.exit(fail(new DsuError('DSU_ERR_USAGE', message ?? error?.message ?? 'bad arguments'), json))
  })
  .help()
  .version()
  .parseAsync()
