// `dsu rollback`: back to the previous version, live, through the reverse transformer.
import type { UpgradeEvent } from '../../runtime/supervisor/upgrade.js'
import { findStateDir, request } from '../control-client.js'
import { fail } from '../output.js'
import { phaseDisplay } from '../progress.js'
import { printOutcome, type UpgradeOutcome } from '../upgrade-result.js'
import type { Timeouts } from '../timeouts.js'

export async function rollback(args: { json: boolean; stateDir?: string; name?: string; timeout?: Timeouts; strategy?: 'atomic' | 'rolling' }): Promise<number> {
  try {
    const stateDir = findStateDir(args)
    if (!args.json) process.stdout.write('dsu: rolling back to the previous version\n')
    const display = args.json ? null : await phaseDisplay()
    const result = (await request(stateDir, { cmd: 'rollback', ...(args.timeout ? { deadlines: args.timeout.deadlines } : {}), ...(args.strategy ? { strategy: args.strategy } : {}) }, (e) => display?.onEvent(e as UpgradeEvent))
      .finally(() => display?.end())) as UpgradeOutcome
    return printOutcome(result, args.json)
  } catch (error) {
    return fail(error, args.json)
  }
}
