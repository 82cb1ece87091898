// `dsu upgrade --to <entry|dir>`: run one live upgrade and say how it ended.
import path from 'node:path'
import { DsuError } from '../../runtime/errors.js'
import type { UpgradeEvent } from '../../runtime/supervisor/upgrade.js'
import { findStateDir, request } from '../control-client.js'
import { normalizeUpgradeTarget } from '../options.js'
import { fail } from '../output.js'
import { printOutcome, type UpgradeOutcome } from '../upgrade-result.js'
import { phaseDisplay } from '../progress.js'
import type { Timeouts } from '../timeouts.js'

export interface UpgradeArgs {
  to: string
  transformer?: string
  transformers?: string
  timeout?: Timeouts
  json: boolean
  stateDir?: string
  name?: string
  versionLabel?: string
  /** With several workers: atomic (default) or rolling. */
  strategy?: 'atomic' | 'rolling'
}

export async function upgrade(args: UpgradeArgs): Promise<number> {
  try {
    const { entry, transformer, transformers } = normalizeUpgradeTarget(args)
    const stateDir = findStateDir(args, [path.dirname(entry)])
    if (!args.json) process.stdout.write(`dsu: upgrading to ${args.to}\n`)
    const display = args.json ? null : await phaseDisplay()
    const onEvent = (event: unknown): void => display?.onEvent(event as UpgradeEvent)
    const result = (await request(stateDir, {
      cmd: 'upgrade',
      entry,
      transformer,
      transformers,
      ...(args.timeout ? { deadlines: args.timeout.deadlines } : {}),
      ...(args.versionLabel ? { version: args.versionLabel } : {}),
      ...(args.strategy ? { strategy: args.strategy } : {}),
    }, onEvent).finally(() => display?.end())) as UpgradeOutcome
    return printOutcome(result, args.json)
  } catch (error) {
    return fail(error instanceof Error ? error : new DsuError('DSU_ERR_INTERNAL', String(error)), args.json)
  }
}
