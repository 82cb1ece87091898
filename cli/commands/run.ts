// `dsu run <entry>`: supervise the program in the foreground.
import { resolveEntry, versionOf } from '../../runtime/supervisor/entry.js'
import { defaultStateDir } from '../../runtime/supervisor/state-dir.js'
import { Supervisor } from '../../runtime/supervisor/supervisor.js'
import path from 'node:path'
import { fail } from '../output.js'
import { DEFAULT_RESTART } from '../../runtime/supervisor/restart-policy.js'
import { DEFAULT_DEADLINE_MS } from '../../runtime/supervisor/deadlines.js'
import type { Timeouts } from '../timeouts.js'

export interface RunArgs {
  entry: string
  stateDir?: string
  timeout?: Timeouts
  stopTimeout: number
  versionLabel?: string
  nodeArg: string[]
  restore?: string
  restart: 'no' | 'on-failure' | 'always'
  restartDelay: number
  maxRestarts: number
  checkpointEvery?: number
  keepCheckpoints: number
}

export async function run(args: RunArgs): Promise<number> {
  let supervisor: Supervisor
  try {
    const entry = resolveEntry(args.entry)
    supervisor = new Supervisor({
      entry,
      configuredEntry: path.resolve(args.entry),
      version: args.versionLabel ?? versionOf(entry),
      stateDir: path.resolve(args.stateDir ?? defaultStateDir(entry)),
      timeoutMs: args.timeout?.all ?? DEFAULT_DEADLINE_MS,
      deadlines: args.timeout?.deadlines,
      stopTimeoutMs: args.stopTimeout,
      nodeArgs: args.nodeArg,
      restore: args.restore,
      restart: { ...DEFAULT_RESTART, mode: args.restart, delayMs: args.restartDelay, maxRestarts: args.maxRestarts },
      checkpointEveryMs: args.checkpointEvery ?? 0,
      keepCheckpoints: args.keepCheckpoints,
      log: (line) => process.stderr.write(line + '\n'),
    })
    await supervisor.start()
  } catch (error) {
    return fail(error, false)
  }
  const stop = (): void => void supervisor.stop()
  const reload = (): void => void supervisor.reload()
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  process.on('SIGHUP', reload)
  const code = await supervisor.done
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  process.off('SIGHUP', reload)
  return code
}
