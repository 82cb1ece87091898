// `dsu run`'s arguments, read without yargs when they are plain. `dsu run`
// stays for months as the supervisor, and yargs' module graph held ~10 MB of
// its RSS after parsing one command line. Only arguments this reader is sure
// of are taken: `run`, one entry, and known options as `--name value` or
// `--name=value` with a valid value. Anything else (help, a typo, a camelCase
// alias, a bad value, `--`) returns null and goes through yargs as before, so
// the errors and help text stay yargs' own.
import type { RunArgs } from './commands/run.js'
import { parseDuration } from './duration.js'
import { MAX_DEADLINE_MS } from '../runtime/supervisor/deadlines.js'
import { validateAppName } from '../runtime/supervisor/state-dir.js'
import { parseTimeouts } from './timeouts.js'
import { RUN_DEFAULTS } from './options.js'

type Kind = 'string' | 'ms' | 'count' | 'restart' | 'node-arg' | 'timeout' | 'duration' | 'name'
const OPTIONS: Record<string, Kind> = {
  'state-dir': 'string', name: 'name', timeout: 'timeout', 'stop-timeout': 'ms', 'version-label': 'string',
  'node-arg': 'node-arg', restore: 'string', restart: 'restart', 'restart-delay': 'ms', 'max-restarts': 'count',
  'checkpoint-every': 'duration', 'keep-checkpoints': 'count',
}
const RESTART = new Set(['no', 'on-failure', 'always'])

/** RunArgs from argv (after joinNodeArgs, without node and the script), or null: ask yargs. */
export function plainRunArgs(argv: readonly string[]): RunArgs | null {
  if (argv[0] !== 'run') return null
  const { stopTimeout, restart, restartDelay, maxRestarts, keepCheckpoints, workers } = RUN_DEFAULTS
  const args: RunArgs = { entry: '', stopTimeout, nodeArg: [], restart, restartDelay, maxRestarts, keepCheckpoints, workers }
  const seen = new Set<string>()
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('-')) {
      if (args.entry !== '' || arg === '') return null
      args.entry = arg
      continue
    }
    if (!arg.startsWith('--')) return null
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    const kind = OPTIONS[name]
    if (!kind) return null
    let value: string
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('-')) return null
      value = next
      i++
    }
    if (kind === 'node-arg') {
      if (value !== '') args.nodeArg.push(value)
      continue
    }
    if (seen.has(name) || value === '') return null
    seen.add(name)
    if (!take(args, name, kind, value)) return null
  }
  return args.entry === '' ? null : args
}

function take(args: RunArgs, name: string, kind: Kind, value: string): boolean {
  switch (kind) {
    case 'string':
      if (name === 'state-dir') args.stateDir = value
      else if (name === 'version-label') args.versionLabel = value
      else args.restore = value
      return true
    case 'name':
      try {
        validateAppName(value)
      } catch {
        return false
      }
      args.name = value
      return true
    case 'timeout':
      try {
        args.timeout = parseTimeouts(value)
      } catch {
        return false
      }
      return true
    case 'duration': {
      const ms = parseDuration(value)
      if (ms === null) return false
      args.checkpointEvery = ms
      return true
    }
    case 'restart':
      if (!RESTART.has(value)) return false
      args.restart = value as RunArgs['restart']
      return true
    case 'ms':
    case 'count': {
      if (!/^\d+(\.\d+)?$/.test(value)) return false
      const n = Number(value)
      if (kind === 'count' ? !Number.isInteger(n) || n < 1 : n <= 0 || n > MAX_DEADLINE_MS) return false
      if (name === 'stop-timeout') args.stopTimeout = n
      else if (name === 'restart-delay') args.restartDelay = n
      else if (name === 'max-restarts') args.maxRestarts = n
      else args.keepCheckpoints = n
      return true
    }
    default:
      return false
  }
}
