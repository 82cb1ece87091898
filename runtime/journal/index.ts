// The upgrade journal: `Journal` for the supervisor (writes never throw),
// `openForReading` / `readHistory` for `dsu history`, `formatHistory` for its table.
export {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_RETENTION,
  EVENT_KINDS,
  JOURNAL_FILE,
  Journal,
  JournalReader,
  PHASES,
  journalPath,
  openForReading,
  readHistory,
  type EventKind,
  type EventRecord,
  type EventRow,
  type HistoryRow,
  type JournalOptions,
  type Outcome,
  type PhaseName,
  type UpgradeRecord,
  type VersionRow,
} from './journal.js'
export { formatHistory, formatMs, formatWhen, type FormatOptions } from './format.js'
export { SCHEMA_VERSION, migrate, migrations, schemaVersion } from './schema.js'
