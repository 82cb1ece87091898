// `dsu history`: the upgrades in the journal, newest first. Works with or
// without a running supervisor (it reads <state-dir>/journal.db).
import { formatHistory, JOURNAL_FILE, readHistory } from '../../runtime/journal/index.js'
import { findStateDir } from '../control-client.js'
import { EXIT } from '../exit-codes.js'
import { fail } from '../output.js'

export async function history(args: { json: boolean; stateDir?: string; limit: number }): Promise<number> {
  try {
    const stateDir = findStateDir(args.stateDir, [process.cwd()], JOURNAL_FILE)
    const rows = readHistory(stateDir, { limit: args.limit })
    if (args.json) process.stdout.write(JSON.stringify({ ok: true, upgrades: rows }) + '\n')
    else process.stdout.write(formatHistory(rows))
    return EXIT.ok
  } catch (error) {
    return fail(error, args.json)
  }
}
