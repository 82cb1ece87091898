// `dsu status` and `dsu upgrade`'s arguments, read without yargs when they are
// plain. Loading and configuring yargs cost about two thirds of these
// commands' start (≈120 of ≈190 ms CPU on the bench machine), and both are on
// the path of every scripted deploy. As in cli/run-args.ts, only command
// lines this reader is sure of are taken: the command, at most one app name,
// and known options as `--name value` or `--name=value` with a valid value.
// Anything else (help, a typo, a camelCase alias, `--no-json`, a bad value, an
// option twice) returns null and goes through yargs as before, so its errors
// and help text stay yargs' own.
import type { UpgradeArgs } from './commands/upgrade.js'
import { validateAppName } from '../runtime/supervisor/state-dir.js'
import type { Timeouts } from './timeouts.js'

export interface StatusArgs {
  json: boolean
  stateDir?: string
  name?: string
}

export type PlainCommand = { command: 'status'; args: StatusArgs } | { command: 'upgrade'; args: UpgradeArgs }

type Kind = 'flag' | 'string' | 'name' | 'timeout' | 'strategy'
const GLOBAL: Record<string, Kind> = { 'state-dir': 'string', name: 'name' }
const STATUS: Record<string, Kind> = { ...GLOBAL, json: 'flag' }
const UPGRADE: Record<string, Kind> = {
  ...GLOBAL, json: 'flag', to: 'string', transformer: 'string', transformers: 'string', timeout: 'timeout', 'version-label': 'string', strategy: 'strategy',
}
const STRATEGIES = new Set(['atomic', 'rolling'])

/**
 * The command and its arguments from argv (after joinNodeArgs, without node
 * and the script), or null: ask yargs. `parseTimeouts` (cli/timeouts.ts) is
 * passed in for `upgrade` so that `dsu status` does not load it; an upgrade's
 * `--timeout` without it goes to yargs.
 */
export function plainCommandArgs(argv: readonly string[], parseTimeouts?: (value: unknown) => Timeouts): PlainCommand | null {
  const command = argv[0]
  if (command !== 'status' && command !== 'upgrade') return null
  const values = readOptions(argv.slice(1), command === 'status' ? STATUS : UPGRADE)
  if (!values) return null
  const common = {
    json: values.json === true,
    ...(typeof values['state-dir'] === 'string' ? { stateDir: values['state-dir'] } : {}),
    ...(typeof values.name === 'string' ? { name: values.name } : {}),
  }
  if (command === 'status') return { command, args: common }
  // --to is required, and --transformer and --transformers exclude each other: yargs says so.
  if (typeof values.to !== 'string' || (values.transformer !== undefined && values.transformers !== undefined)) return null
  const args: UpgradeArgs = { to: values.to, ...common }
  if (typeof values.transformer === 'string') args.transformer = values.transformer
  if (typeof values.transformers === 'string') args.transformers = values.transformers
  if (typeof values['version-label'] === 'string') args.versionLabel = values['version-label']
  if (typeof values.strategy === 'string') args.strategy = values.strategy as UpgradeArgs['strategy']
  if (values.timeout !== undefined) {
    if (!parseTimeouts) return null
    try {
      args.timeout = parseTimeouts(values.timeout)
    } catch {
      return null
    }
  }
  return { command, args }
}

/** Option values by name (`name` also from the one positional), or null when anything is not plain. */
function readOptions(rest: readonly string[], known: Record<string, Kind>): Record<string, string | true> | null {
  const values: Record<string, string | true> = {}
  let positional: string | undefined
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    if (!arg.startsWith('-')) {
      if (positional !== undefined) return null
      positional = arg
      continue
    }
    if (!arg.startsWith('--')) return null
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    const kind = known[name]
    if (!kind || name in values) return null
    if (kind === 'flag') {
      // `--json=false`, `--json false` and `--no-json` are yargs' to read.
      if (eq !== -1) return null
      values[name] = true
      continue
    }
    let value: string
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      const next = rest[i + 1]
      if (next === undefined || next.startsWith('-')) return null
      value = next
      i++
    }
    if (value === '' || !valid(kind, value)) return null
    values[name] = value
  }
  if (positional !== undefined) {
    // `status api --name api` is "--name given more than once" to yargs.
    if ('name' in values || !valid('name', positional)) return null
    values.name = positional
  }
  return values
}

function valid(kind: Kind, value: string): boolean {
  switch (kind) {
    case 'name':
      // yargs would read a name such as 123 or 1e3 as a number.
      if (!Number.isNaN(Number(value))) return false
      try {
        validateAppName(value)
        return true
      } catch {
        return false
      }
    case 'strategy':
      return STRATEGIES.has(value)
    default:
      return true
  }
}
