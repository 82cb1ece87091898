#!/usr/bin/env node
// The `dsu` command. Its plain forms are read without yargs and load only
// their own command's modules: `dsu run <entry>` (cli/run-args.ts), whose
// supervisor then does not carry yargs for months, and `dsu status` and
// `dsu upgrade --to …` (cli/command-args.ts), on the path of every scripted
// deploy, where node's own start is most of what they cost and every module
// loaded before the command's adds to it. Anything else (help, aliases, other
// commands, a form those readers are not sure of) goes to the full parser,
// cli/yargs-cli.ts, with yargs' own errors and help.
import { joinNodeArgs } from './node-arg.js'

/** The plain command's exit code, or undefined: not a plain form. */
async function plain(argv: readonly string[]): Promise<number | undefined> {
  const command = argv[0]
  if (command === 'run') {
    const args = (await import('./run-args.js')).plainRunArgs(argv)
    if (!args) return undefined
    await (await import('./lean-supervisor.js')).leanSupervisor(args.restore)
    return (await import('./commands/run.js')).run(args)
  }
  if (command !== 'status' && command !== 'upgrade') return undefined
  // cli/timeouts.ts (and what it imports) only for an upgrade: a status does not read it.
  const parseTimeouts = command === 'upgrade' ? (await import('./timeouts.js')).parseTimeouts : undefined
  const parsed = (await import('./command-args.js')).plainCommandArgs(argv, parseTimeouts)
  if (parsed?.command === 'status') return (await import('./commands/status.js')).status(parsed.args)
  if (parsed?.command === 'upgrade') return (await import('./commands/upgrade.js')).upgrade(parsed.args)
  return undefined
}

// What node was given after the script (yargs' hideBin, for plain node).
const code = await plain(joinNodeArgs(process.argv.slice(2)))
if (code === undefined) await import('./yargs-cli.js')
else process.exitCode = code
