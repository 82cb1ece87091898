// `dsu upgrade --to <entry|dir>`: run one live upgrade and say how it ended.
import path from 'node:path'
import { DsuError } from '../../runtime/errors.js'
import type { UpgradeEvent } from '../../runtime/supervisor/upgrade.js'
import { findStateDir, request } from '../control-client.js'
import { EXIT } from '../exit-codes.js'
import { bytes, fail, ms } from '../output.js'
import { phaseDisplay } from '../progress.js'

export interface UpgradeArgs {
  to: string
  transformer?: string
  timeout: number
  json: boolean
  stateDir?: string
  versionLabel?: string
}

interface Result {
  outcome: 'committed' | 'rolled-back'
  from: string
  to: string
  phases: Record<string, number>
  pauseMs: number | null
  totalMs: number
  state: { bytes: number; records: number; roots: number } | null
  error?: { code: string; message: string; phase: string }
  pid: number
  connectionsMoved: number
}

export async function upgrade(args: UpgradeArgs): Promise<number> {
  try {
    const entry = path.resolve(args.to)
    const stateDir = findStateDir(args.stateDir, [path.dirname(entry), process.cwd()])
    if (!args.json) process.stdout.write(`dsu: upgrading to ${args.to}\n`)
    const display = args.json ? null : phaseDisplay()
    const onEvent = (event: unknown): void => display?.onEvent(event as UpgradeEvent)
    const result = (await request(stateDir, {
      cmd: 'upgrade',
      entry,
      transformer: args.transformer ? path.resolve(args.transformer) : null,
      timeoutMs: args.timeout,
      ...(args.versionLabel ? { version: args.versionLabel } : {}),
    }, onEvent).finally(() => display?.end())) as Result
    if (args.json) {
      process.stdout.write(JSON.stringify({ ok: result.outcome === 'committed', ...result }) + '\n')
    } else if (result.outcome === 'committed') {
      const s = result.state
      const size = s ? `, ${s.roots} roots, ${s.records} records, ${bytes(s.bytes)}` : ''
      process.stdout.write(`committed ${result.from} → ${result.to} (pid ${result.pid}) in ${ms(result.totalMs)}; pause ${ms(result.pauseMs)}${size}\n`)
    } else {
      const e = result.error!
      process.stderr.write(`rolled back ${result.from} → ${result.to} in phase ${e.phase}: ${e.code}: ${e.message}\n`)
      process.stderr.write(`${result.from} (pid ${result.pid}) keeps serving with its state unchanged.\n`)
    }
    return result.outcome === 'committed' ? EXIT.ok : EXIT.rolledBack
  } catch (error) {
    return fail(error instanceof Error ? error : new DsuError('DSU_ERR_INTERNAL', String(error)), args.json)
  }
}
