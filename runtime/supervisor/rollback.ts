// `dsu rollback`: back to the version before the last committed upgrade,
// through the same live path, with the declared reverse transformer (B → A).
import fs from 'node:fs'
import path from 'node:path'
import { DsuError } from '../errors.js'
import { describeChoice, type TransformerChoice } from '../transformer-choice.js'

export interface CommittedUpgrade {
  from: string
  to: string
  fromEntry: string
  toEntry: string
  transformer: TransformerChoice | null
}

export interface RollbackPlan {
  entry: string
  version: string
  transformer: TransformerChoice | null
}

/**
 * The reverse of `last` (which brought the running version):
 * dsu.reverse.{js,mjs,ts,mts} beside the current entry, else the `reverse` the
 * forward transformer declares. An upgrade that had no transformer needs none back.
 */
export function planRollback(last: CommittedUpgrade | null, current: { version: string; entry: string }): RollbackPlan {
  if (!last || last.to !== current.version) {
    throw new DsuError('DSU_ERR_NO_PREVIOUS_VERSION', last
      ? `the running version ${current.version} did not come from a committed upgrade (the last one went ${last.from} → ${last.to})`
      : `no committed upgrade brought ${current.version}; nothing to roll back to`)
  }
  if (!fs.existsSync(last.fromEntry)) {
    throw new DsuError('DSU_ERR_ENTRY_NOT_FOUND', `the previous version's entry ${last.fromEntry} is gone; redeploy it or upgrade to it explicitly`)
  }
  const plan = { entry: last.fromEntry, version: last.from }
  if (!last.transformer) return { ...plan, transformer: null }
  for (const name of ['dsu.reverse.js', 'dsu.reverse.mjs', 'dsu.reverse.ts', 'dsu.reverse.mts']) {
    const file = path.join(path.dirname(current.entry), name)
    if (fs.existsSync(file)) return { ...plan, transformer: { kind: 'file', path: file } }
  }
  if (last.transformer.kind === 'chain') {
    throw new DsuError('DSU_ERR_NO_REVERSE_TRANSFORMER', `rolling back ${last.to} → ${last.from} went through the chain in ${describeChoice(last.transformer)}; put a dsu.reverse.js beside ${current.entry}`)
  }
  // The program loads it at boot (before the running version pauses) and
  // refuses with DSU_ERR_NO_REVERSE_TRANSFORMER if the module declares none.
  return { ...plan, transformer: { kind: 'reverse', path: last.transformer.path } }
}
