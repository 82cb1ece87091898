// `dsu run <entry>`: supervise the program in the foreground.
import { STATE_DIR_NAME } from '../../runtime/supervisor/state-dir.js'
import { Supervisor } from '../../runtime/supervisor/supervisor.js'
import fs from 'node:fs'
import path from 'node:path'
import { fail } from '../output.js'
import { normalizeRunOptions } from '../options.js'
import type { Timeouts } from '../timeouts.js'

export interface RunArgs {
  entry: string
  stateDir?: string
  name?: string
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
  /** Program processes sharing the listening sockets. */
  workers: number
}

export async function run(args: RunArgs): Promise<number> {
  let supervisor: Supervisor
  let stateDir: string
  try {
    const options = normalizeRunOptions(args)
    stateDir = options.stateDir
    noticeOldStateDir(options.entry, stateDir)
    supervisor = new Supervisor({ ...options, log: (line) => process.stderr.write(line + '\n') })
    await supervisor.start()
    // The supervisor outlives releases: it must not keep (or depend on) a
    // release folder as its own working directory, which a deploy may delete.
    process.chdir(stateDir)
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

/**
 * Before 0.2, the state dir defaulted to `.dsu/` beside the entry — inside the
 * release folder. Say where the journal and checkpoints are now, and how to
 * keep the old ones, rather than move files behind the operator's back.
 */
function noticeOldStateDir(entry: string, stateDir: string): void {
  const old = path.join(path.dirname(entry), STATE_DIR_NAME)
  if (path.resolve(old) === path.resolve(stateDir) || stateDir.startsWith(old + path.sep)) return
  if (!fs.existsSync(path.join(old, 'journal.db')) && !fs.existsSync(path.join(old, 'checkpoints'))) return
  process.stderr.write(`dsu: note: ${old} beside the entry holds an older journal or checkpoints; dsu now keeps state in ${stateDir}. ` +
    `To keep them, stop dsu and move them (mv ${old} ${stateDir}), or pass --state-dir ${old}.\n`)
}
