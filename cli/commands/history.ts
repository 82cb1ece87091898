// `dsu history`: the upgrades in the journal, newest first. Works with or
// without a running supervisor (it reads <state-dir>/journal.db).
import { formatHistory, JOURNAL_FILE, openForReading, readHistory, type EventRow } from '../../runtime/journal/index.js'
import { findStateDir } from '../control-client.js'
import { EXIT } from '../exit-codes.js'
import { fail } from '../output.js'

export async function history(args: { json: boolean; stateDir?: string; name?: string; limit: number; events?: boolean }): Promise<number> {
  try {
    const stateDir = findStateDir(args, [], JOURNAL_FILE)
    if (args.events) {
      const reader = openForReading(stateDir)
      let events: EventRow[]
      try {
        events = reader.events({ limit: args.limit })
      } finally {
        reader.close()
      }
      if (args.json) process.stdout.write(JSON.stringify({ ok: true, events }) + '\n')
      else process.stdout.write(formatEvents(events))
      return EXIT.ok
    }
    const rows = readHistory(stateDir, { limit: args.limit })
    if (args.json) process.stdout.write(JSON.stringify({ ok: true, upgrades: rows }) + '\n')
    else process.stdout.write(formatHistory(rows))
    return EXIT.ok
  } catch (error) {
    return fail(error, args.json)
  }
}

function formatEvents(events: EventRow[]): string {
  if (events.length === 0) return 'no events recorded\n'
  return events.map((e) => {
    const exit = e.signal ? ` signal ${e.signal}` : e.code !== null ? ` code ${e.code}` : ''
    return `${e.at}  ${e.kind.padEnd(10)} ${e.version ?? '-'}${e.pid !== null ? ` pid ${e.pid}` : ''}${exit}${e.detail ? `  ${e.detail}` : ''}`
  }).join('\n') + '\n'
}
