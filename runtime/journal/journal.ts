// The upgrade journal: a SQLite file, `<state-dir>/journal.db`, that keeps every
// upgrade (versions, phase timings, pause, state size, outcome, error) and the
// program's lifecycle events (start, exit, crash, restart, stop, checkpoint).
// The supervisor writes it through `Journal`; `dsu history` reads it through
// `openForReading`, also when no supervisor runs (WAL: readers never block the
// writer and are never blocked by it).
//
// The journal never takes the service down. Whatever goes wrong with the file —
// unreadable, locked, corrupt, read-only, disk full, even a native module that
// does not load — `Journal.open` and the `record*` methods do not throw: they
// report a DsuError('DSU_ERR_JOURNAL', …naming the file and the cause) through
// `onError` and return. A journal that could not be opened is *disabled*: it
// reports once, then every record* is a no-op and every read returns [] / null.
// Only the reader used by `dsu history` (`openForReading`) throws, so the CLI
// can say why there is no history.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { DsuError } from '../errors.js'
import { migrate, schemaVersion } from './schema.js'
import { PHASES, type Phase } from '../supervisor/phases.js'
import { describeChoice, isChoice, parseChoice, type TransformerChoice } from '../transformer-choice.js'

type Db = BetterSqlite3.Database
type Statement = BetterSqlite3.Statement

export const JOURNAL_FILE = 'journal.db'
export const DEFAULT_RETENTION = 1000
export const DEFAULT_BUSY_TIMEOUT_MS = 500

/** One column `<phase>_ms` per phase of PHASES (the one list, supervisor/phases.ts). */
export type PhaseName = Phase
export { PHASES }

export type EventKind = 'start' | 'exit' | 'crash' | 'restart' | 'stop' | 'checkpoint' | 'checkpoint-failed'
export const EVENT_KINDS: readonly EventKind[] = ['start', 'exit', 'crash', 'restart', 'stop', 'checkpoint', 'checkpoint-failed']

export type Outcome = 'committed' | 'rolled-back' | 'failed'

/**
 * One upgrade to record. Shaped so that an `UpgradeResult` (upgrade.ts) spreads
 * into it: `journal.recordUpgrade({ ...result, fromEntry, toEntry, transformer })`.
 */
export interface UpgradeRecord {
  outcome: Outcome
  from: string
  to: string
  fromEntry?: string | null
  toEntry?: string | null
  /** What mapped the state (transformer-choice.ts); null when nothing did. */
  transformer?: TransformerChoice | null
  /** Wall clock, epoch ms or Date. Default: endedAt − totalMs. */
  startedAt?: number | Date
  /** Wall clock, epoch ms or Date. Default: now. */
  endedAt?: number | Date
  /** ms per phase; a phase that did not run is absent. */
  phases?: Partial<Record<PhaseName, number>>
  pauseMs?: number | null
  totalMs: number
  state?: { bytes: number; records: number; roots: number } | null
  /** `output`: the failed new version's last stderr lines (upgrade.ts keeps at most 20 lines, 4 KB). */
  error?: { code: string; message: string; phase?: string | null; output?: string | null } | null
  /** `dsu run --workers N`: the strategy, and one entry per worker (schema 4). */
  strategy?: string | null
  workers?: WorkerRecord[] | null
}

/** One worker's part of an upgrade of several workers. */
export interface WorkerRecord {
  worker: number
  outcome: string
  from: string
  to: string
  pid: number
  phases: Partial<Record<PhaseName, number>>
  pauseMs: number | null
  totalMs: number
  state?: { bytes: number; records: number; roots: number } | null
  error?: { code: string; message: string; phase?: string | null } | null
}

export interface EventRecord {
  kind: EventKind
  /** Wall clock, epoch ms or Date. Default: now. */
  at?: number | Date
  version?: string | null
  /** When given with `version`, the pair is noted in the versions table. */
  entry?: string | null
  pid?: number | null
  /** Exit code. */
  code?: number | null
  signal?: string | null
  /** Free text; an object is stored as JSON. */
  detail?: string | Record<string, unknown> | null
}

/**
 * One upgrade as read back. THIS IS THE `dsu history --json` OUTPUT (an array of
 * these, newest first); keep it stable — add keys, never rename or remove.
 *
 *   {
 *     "id": 12,                              // increasing, never reused
 *     "from": "1.0.0", "to": "2.0.0",        // version labels
 *     "fromEntry": "/app/v1/server.js",      // string | null
 *     "toEntry": "/app/v2/server.js",        // string | null
 *     "transformer": "/app/v2/dsu.transform.js",  // file, file#export, dir/ (a chain); string | null
 *     "transformerChoice": { "kind": "file", "path": "/app/v2/dsu.transform.js" },
 *                 // the same, structured: kind "file" | "chain" | "reverse", path,
 *                 // export (file#name only); | null (schema 5; parsed from
 *                 // "transformer" for rows recorded before)
 *     "startedAt": "2025-01-02T03:04:05.678Z",    // ISO 8601, UTC
 *     "endedAt":   "2025-01-02T03:04:05.761Z",
 *     "outcome": "committed",                // "committed" | "rolled-back" | "failed"
 *     "phases": { "spawn": 73.4, "precopy": null, "quiesce": 1.38, "transfer": 5.4,
 *                 "transform": 0.1, "init": 0.3, "ready": 0.04, "commit": 2.38 },
 *                 // ms | null each, one key per phase; precopy and init are null
 *                 // in upgrades recorded before they were measured (schema 1)
 *     "pauseMs": 8.86,                       // number | null
 *     "totalMs": 83.1,
 *     "state": { "bytes": 28, "records": 2, "roots": 1 },   // | null
 *     "error": null    // | { "code": "DSU_ERR_…", "message": "…", "phase": "transfer" | null,
 *                      //     "output": "…" | null }  the new version's last stderr lines,
 *                      //     when it caused the rollback (schema 2; null before)
 *     // only for an upgrade of several workers (`dsu run --workers N`, schema 4):
 *     "strategy": "atomic",                  // "atomic" | "rolling"
 *     "workers": [ { "worker": 0, "outcome": "committed", "from": "1.0.0", "to": "2.0.0", "pid": 4242,
 *                    "phases": { "spawn": 70.1, … }, "pauseMs": 8.1, "totalMs": 80.2, "state": {…} | null,
 *                    "error"?: {…} }, … ]  // outcome also "skipped" | "not-started"
 *   }
 */
export interface HistoryRow {
  id: number
  from: string
  to: string
  fromEntry: string | null
  toEntry: string | null
  transformer: string | null
  transformerChoice: TransformerChoice | null
  startedAt: string
  endedAt: string
  outcome: Outcome
  phases: Record<PhaseName, number | null>
  pauseMs: number | null
  totalMs: number
  state: { bytes: number; records: number; roots: number } | null
  error: { code: string; message: string; phase: string | null; output: string | null } | null
  /** Present only for an upgrade of several workers. */
  strategy?: string
  workers?: WorkerRecord[]
}

/** One event as read back (`at` ISO 8601, UTC). */
export interface EventRow {
  id: number
  at: string
  kind: EventKind
  version: string | null
  pid: number | null
  code: number | null
  signal: string | null
  detail: string | null
}

export interface VersionRow {
  label: string
  entry: string
  firstSeen: string
  lastSeen: string
}

export interface JournalOptions {
  /** Keep the last N upgrades and the last N × 10 events. Default 1000. */
  retention?: number
  /** Where failures go; default `process.emitWarning`. Never throws out. */
  onError?: (error: DsuError) => void
  /** How long a write waits for another connection's lock, ms. Default 500. */
  busyTimeoutMs?: number
  /** Extra `PRAGMA`s run after open and migration (tuning and tests), e.g. 'query_only = 1'. */
  pragmas?: string[]
  /** Wall clock, epoch ms (tests). */
  now?: () => number
}

export function journalPath(stateDir: string): string {
  return path.join(stateDir, JOURNAL_FILE)
}

const require = createRequire(import.meta.url)

// Loaded on first open, not at import: a native module built for another Node
// must disable the journal, not stop the supervisor from starting.
function loadDriver(): typeof BetterSqlite3 {
  return require('better-sqlite3') as typeof BetterSqlite3
}

function journalError(file: string, doing: string, cause: unknown): DsuError {
  const c = cause as { code?: unknown; message?: unknown } | null
  let why: string
  if (c && typeof c.code === 'string' && c.code.startsWith('SQLITE_')) why = `${c.code}: ${String(c.message)}`
  else why = cause instanceof Error ? cause.message : String(cause)
  return new DsuError('DSU_ERR_JOURNAL', `journal ${file}: ${doing}: ${why}`, { cause })
}

function sqliteCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : null
}

function ms(value: number | Date | undefined, fallback: number): number {
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.getTime() : fallback
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : fallback
}

function num(value: unknown): number | null {
  if (typeof value === 'bigint') return Number(value)
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

function iso(value: unknown): string {
  const n = num(value)
  return n === null ? new Date(0).toISOString() : new Date(n).toISOString()
}

function clampLimit(limit: number | undefined): number {
  return typeof limit === 'number' && Number.isFinite(limit) && limit >= 0 ? Math.floor(limit) : -1
}

type DbRow = Record<string, unknown>

export function toHistoryRow(r: DbRow): HistoryRow {
  const phases = {} as Record<PhaseName, number | null>
  for (const p of PHASES) phases[p] = num(r[`${p}_ms`])
  const bytes = num(r.state_bytes)
  const records = num(r.state_records)
  const roots = num(r.state_roots)
  const code = str(r.error_code)
  return {
    id: num(r.id) ?? 0,
    from: str(r.from_version) ?? '',
    to: str(r.to_version) ?? '',
    fromEntry: str(r.from_entry),
    toEntry: str(r.to_entry),
    transformer: str(r.transformer),
    transformerChoice: choiceOf(r.transformer_choice, r.transformer),
    startedAt: iso(r.started_at),
    endedAt: iso(r.ended_at),
    outcome: outcomeOf(r.outcome),
    phases,
    pauseMs: num(r.pause_ms),
    totalMs: num(r.total_ms) ?? 0,
    state: bytes === null && records === null && roots === null
      ? null
      : { bytes: bytes ?? 0, records: records ?? 0, roots: roots ?? 0 },
    error: code === null ? null : { code, message: str(r.error_message) ?? '', phase: str(r.error_phase), output: str(r.output) },
    ...(str(r.strategy) !== null ? { strategy: str(r.strategy)! } : {}),
    ...workersOf(r.workers),
  }
}

/** The stored choice, else (rows of schema < 5, a damaged cell) the one the string form names. */
function choiceOf(stored: unknown, text: unknown): TransformerChoice | null {
  const json = str(stored)
  if (json !== null) {
    try {
      const parsed = JSON.parse(json) as unknown
      if (isChoice(parsed)) return parsed
    } catch {
      // damaged: fall back to the string form
    }
  }
  return parseChoice(str(text))
}

function workersOf(value: unknown): { workers?: WorkerRecord[] } {
  const text = str(value)
  if (text === null) return {}
  try {
    const parsed = JSON.parse(text) as unknown
    return Array.isArray(parsed) ? { workers: parsed as WorkerRecord[] } : {}
  } catch {
    return {} // a damaged cell loses the per-worker detail, not the row
  }
}

export function toEventRow(r: DbRow): EventRow {
  return {
    id: num(r.id) ?? 0,
    at: iso(r.at),
    kind: str(r.kind) as EventKind,
    version: str(r.version),
    pid: num(r.pid),
    code: num(r.code),
    signal: str(r.signal),
    detail: str(r.detail),
  }
}

function toVersionRow(r: DbRow): VersionRow {
  return { label: str(r.label) ?? '', entry: str(r.entry) ?? '', firstSeen: iso(r.first_seen), lastSeen: iso(r.last_seen) }
}

interface Statements {
  insertUpgrade: Statement
  insertEvent: Statement
  upsertVersion: Statement
  pruneUpgrades: Statement
  pruneEvents: Statement
  selectUpgrades: Statement
  selectEvents: Statement
  selectVersions: Statement
}

const PHASE_COLUMNS = PHASES.map((p) => `${p}_ms`)

const INSERT_UPGRADE = `INSERT INTO upgrades (
  from_version, to_version, from_entry, to_entry, transformer, transformer_choice, started_at, ended_at, outcome,
  ${PHASE_COLUMNS.join(', ')},
  pause_ms, total_ms, state_bytes, state_records, state_roots, error_code, error_message, error_phase, output, strategy, workers
) VALUES (
  @from_version, @to_version, @from_entry, @to_entry, @transformer, @transformer_choice, @started_at, @ended_at, @outcome,
  ${PHASE_COLUMNS.map((c) => `@${c}`).join(', ')},
  @pause_ms, @total_ms, @state_bytes, @state_records, @state_roots, @error_code, @error_message, @error_phase, @output, @strategy, @workers
)`

const INSERT_EVENT = `INSERT INTO events (at, kind, version, pid, code, signal, detail)
  VALUES (@at, @kind, @version, @pid, @code, @signal, @detail)`

const UPSERT_VERSION = `INSERT INTO versions (label, entry, first_seen, last_seen) VALUES (@label, @entry, @at, @at)
  ON CONFLICT (label, entry) DO UPDATE SET
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)`

// Reads use SELECT * so a file of another schema version still maps (missing → null).
const SELECT_UPGRADES = 'SELECT * FROM upgrades ORDER BY id DESC LIMIT ?'
const SELECT_EVENTS = 'SELECT * FROM events ORDER BY id DESC LIMIT ?'
const SELECT_VERSIONS = 'SELECT * FROM versions ORDER BY first_seen, label, entry'

// Errors after which the file is not worth writing again in this process.
const FATAL = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB'])

/** The supervisor's journal: writes never throw; see the file comment. */
export class Journal {
  /** Absolute-or-as-given path of journal.db. */
  readonly path: string
  readonly retention: number
  private db: Db | null = null
  private statements: Statements | null = null
  private failure: DsuError | null = null
  private closed = false
  private readonly onError: (error: DsuError) => void
  private readonly now: () => number
  private insertUpgradeTx: ((row: UpgradeRecord) => number) | null = null
  private insertEventTx: ((row: EventRecord) => number) | null = null

  private constructor(file: string, options: JournalOptions) {
    this.path = file
    const retention = options.retention
    this.retention = typeof retention === 'number' && Number.isFinite(retention) && retention >= 1 ? Math.floor(retention) : DEFAULT_RETENTION
    const onError = options.onError ?? ((error: DsuError) => process.emitWarning(error.message, { code: error.code }))
    this.onError = (error) => {
      try {
        onError(error)
      } catch {
        // A reporter that throws must not take the caller down either.
      }
    }
    this.now = options.now ?? Date.now
  }

  /**
   * Opens (creating 0600 if needed, and migrating) `<stateDir>/journal.db`.
   * Never throws: on failure the journal is disabled and `onError` is called once.
   */
  static open(stateDir: string, options: JournalOptions = {}): Journal {
    const file = journalPath(stateDir)
    const journal = new Journal(file, options)
    let db: Db | null = null
    try {
      fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 })
      try {
        // Created here, not by SQLite, so it is 0600 from its first byte;
        // SQLite gives the -wal and -shm files the same mode.
        fs.closeSync(fs.openSync(file, 'wx', 0o600))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      // A file from an older dsu or another tool may be 0644, and its -wal and
      // -shm with it: narrowed before opening (new -wal/-shm copy the
      // database's mode) and after (they may have been left by a crash).
      journal.makePrivate()
      const Driver = loadDriver()
      db = new Driver(file, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS })
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      migrate(db)
      journal.makePrivate()
      for (const pragma of options.pragmas ?? []) db.pragma(pragma)
      journal.statements = {
        insertUpgrade: db.prepare(INSERT_UPGRADE),
        insertEvent: db.prepare(INSERT_EVENT),
        upsertVersion: db.prepare(UPSERT_VERSION),
        pruneUpgrades: db.prepare('DELETE FROM upgrades WHERE id <= ?'),
        pruneEvents: db.prepare('DELETE FROM events WHERE id <= ?'),
        selectUpgrades: db.prepare(SELECT_UPGRADES),
        selectEvents: db.prepare(SELECT_EVENTS),
        selectVersions: db.prepare(SELECT_VERSIONS),
      }
      journal.db = db
      journal.prepareTransactions(db, journal.statements)
    } catch (error) {
      try {
        db?.close()
      } catch {
        // the open already failed; that error is the one to report
      }
      journal.db = null
      journal.statements = null
      journal.failure = journalError(file, 'cannot open; the journal is disabled', error)
      journal.onError(journal.failure)
    }
    return journal
  }

  /**
   * Takes group and other permissions off journal.db, -wal and -shm (never
   * adds any: a read-only file stays read-only). Files owned by another user
   * are left alone; a failure is reported, not fatal.
   */
  private makePrivate(): void {
    const uid = process.getuid?.()
    for (const file of [this.path, `${this.path}-wal`, `${this.path}-shm`]) {
      try {
        const stat = fs.lstatSync(file)
        if (!stat.isFile() || (stat.mode & 0o077) === 0 || (uid !== undefined && stat.uid !== uid)) continue
        fs.chmodSync(file, stat.mode & 0o700)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        this.onError(journalError(file, 'cannot make it private (0600)', error))
      }
    }
  }

  /** True when the journal could not be opened (or hit a corrupt file): writes are no-ops. */
  get disabled(): boolean {
    return this.db === null
  }

  /** Why the journal is disabled, or null. */
  get disabledBy(): DsuError | null {
    return this.failure
  }

  /** Records one upgrade; returns its id, or null when it was not recorded. */
  recordUpgrade(row: UpgradeRecord): number | null {
    return this.write(() => `cannot record upgrade ${row.from} → ${row.to}`, () => this.insertUpgradeTx!(row))
  }

  /** Records one lifecycle event; returns its id, or null when it was not recorded. */
  recordEvent(row: EventRecord): number | null {
    return this.write(() => `cannot record ${row.kind} event`, () => this.insertEventTx!(row))
  }

  /** Notes that `label` ran from `entry` (recordUpgrade and recordEvent do this when they know both). */
  noteVersion(label: string, entry: string, at?: number | Date): void {
    this.write(() => `cannot note version ${label}`, () => {
      this.statements!.upsertVersion.run({ label, entry, at: ms(at, this.now()) })
      return 0
    })
  }

  /** Upgrades, newest first. Failures are reported and read as []. */
  upgrades(options: { limit?: number } = {}): HistoryRow[] {
    return this.read('cannot read upgrades', [], () =>
      (this.statements!.selectUpgrades.all(clampLimit(options.limit)) as DbRow[]).map(toHistoryRow))
  }

  lastUpgrade(): HistoryRow | null {
    return this.upgrades({ limit: 1 })[0] ?? null
  }

  /** Events, newest first. Failures are reported and read as []. */
  events(options: { limit?: number } = {}): EventRow[] {
    return this.read('cannot read events', [], () =>
      (this.statements!.selectEvents.all(clampLimit(options.limit)) as DbRow[]).map(toEventRow))
  }

  versions(): VersionRow[] {
    return this.read('cannot read versions', [], () => (this.statements!.selectVersions.all() as DbRow[]).map(toVersionRow))
  }

  /** Closes the file (checkpointing the WAL). Idempotent; later record* calls are no-ops. */
  close(): void {
    if (this.closed) return
    this.closed = true
    const db = this.db
    this.db = null
    this.statements = null
    if (!db) return
    try {
      db.close()
    } catch (error) {
      this.onError(journalError(this.path, 'cannot close', error))
    }
  }

  private prepareTransactions(db: Db, s: Statements): void {
    const keepUpgrades = this.retention
    const keepEvents = this.retention * 10
    this.insertUpgradeTx = db.transaction((row: UpgradeRecord): number => {
      const endedAt = ms(row.endedAt, this.now())
      const totalMs = num(row.totalMs) ?? 0
      const startedAt = ms(row.startedAt, Math.round(endedAt - totalMs))
      const phases = row.phases ?? {}
      const error = row.error ?? null
      const state = row.state ?? null
      const info = s.insertUpgrade.run({
        from_version: String(row.from),
        to_version: String(row.to),
        from_entry: str(row.fromEntry),
        to_entry: str(row.toEntry),
        transformer: describeChoice(row.transformer),
        transformer_choice: row.transformer ? JSON.stringify(row.transformer) : null,
        started_at: startedAt,
        ended_at: endedAt,
        outcome: outcomeOf(row.outcome),
        ...Object.fromEntries(PHASES.map((p) => [`${p}_ms`, num(phases[p])])),
        pause_ms: num(row.pauseMs),
        total_ms: totalMs,
        state_bytes: state ? num(state.bytes) : null,
        state_records: state ? num(state.records) : null,
        state_roots: state ? num(state.roots) : null,
        error_code: error ? String(error.code) : null,
        error_message: error ? String(error.message) : null,
        error_phase: error ? str(error.phase) : null,
        output: error ? str(error.output) : null,
        strategy: str(row.strategy),
        workers: row.workers ? JSON.stringify(row.workers) : null,
      })
      const fromEntry = str(row.fromEntry)
      const toEntry = str(row.toEntry)
      if (fromEntry !== null) s.upsertVersion.run({ label: String(row.from), entry: fromEntry, at: startedAt })
      if (toEntry !== null) s.upsertVersion.run({ label: String(row.to), entry: toEntry, at: endedAt })
      const id = Number(info.lastInsertRowid)
      // AUTOINCREMENT ids only grow, so "the last N" is "id > last − N": a range delete on the key.
      if (id > keepUpgrades) s.pruneUpgrades.run(id - keepUpgrades)
      return id
    })
    this.insertEventTx = db.transaction((row: EventRecord): number => {
      if (!EVENT_KINDS.includes(row.kind)) throw new Error(`unknown event kind ${JSON.stringify(row.kind)}`)
      const at = ms(row.at, this.now())
      const detail = row.detail === undefined || row.detail === null
        ? null
        : typeof row.detail === 'string' ? row.detail : JSON.stringify(row.detail)
      const info = s.insertEvent.run({
        at,
        kind: row.kind,
        version: str(row.version),
        pid: num(row.pid),
        code: num(row.code),
        signal: str(row.signal),
        detail,
      })
      const version = str(row.version)
      const entry = str(row.entry)
      if (version !== null && entry !== null) s.upsertVersion.run({ label: version, entry, at })
      const id = Number(info.lastInsertRowid)
      if (id > keepEvents) s.pruneEvents.run(id - keepEvents)
      return id
    })
  }

  private write(doing: () => string, fn: () => number): number | null {
    if (!this.db || !this.statements) return null
    try {
      return fn()
    } catch (error) {
      const code = sqliteCode(error)
      if (code !== null && FATAL.has(code)) {
        this.failure = journalError(this.path, `${doing()}; the journal is disabled`, error)
        this.onError(this.failure)
        const db = this.db
        this.db = null
        this.statements = null
        try {
          db.close()
        } catch {
          // already reported
        }
      } else {
        this.onError(journalError(this.path, doing(), error))
      }
      return null
    }
  }

  private read<T>(doing: string, fallback: T, fn: () => T): T {
    if (!this.db || !this.statements) return fallback
    try {
      return fn()
    } catch (error) {
      this.onError(journalError(this.path, doing, error))
      return fallback
    }
  }
}

/**
 * Read-only access for `dsu history` (and `dsu status`), also when no supervisor
 * runs. Unlike `Journal`, every method throws DsuError('DSU_ERR_JOURNAL') on an
 * unreadable or corrupt file. A missing file (nothing recorded yet) reads as empty.
 */
export class JournalReader {
  readonly path: string
  private db: Db | null

  /** @internal use openForReading */
  constructor(file: string, db: Db | null) {
    this.path = file
    this.db = db
  }

  upgrades(options: { limit?: number } = {}): HistoryRow[] {
    return this.query('cannot read upgrades', SELECT_UPGRADES, [clampLimit(options.limit)]).map(toHistoryRow)
  }

  lastUpgrade(): HistoryRow | null {
    return this.upgrades({ limit: 1 })[0] ?? null
  }

  events(options: { limit?: number } = {}): EventRow[] {
    return this.query('cannot read events', SELECT_EVENTS, [clampLimit(options.limit)]).map(toEventRow)
  }

  versions(): VersionRow[] {
    return this.query('cannot read versions', SELECT_VERSIONS, []).map(toVersionRow)
  }

  close(): void {
    const db = this.db
    this.db = null
    try {
      db?.close()
    } catch {
      // read-only: nothing to lose
    }
  }

  private query(doing: string, sql: string, params: unknown[]): DbRow[] {
    const db = this.db
    if (!db) return []
    try {
      // A file the supervisor has not migrated yet (or an empty one) has no tables: no history.
      if (schemaVersion(db) === 0) return []
      return db.prepare(sql).all(...params) as DbRow[]
    } catch (error) {
      throw journalError(this.path, doing, error)
    }
  }
}

/**
 * Opens `<stateDir>/journal.db` read-only. Throws DsuError('DSU_ERR_JOURNAL')
 * when the file exists but cannot be opened or is not a journal.
 */
export function openForReading(stateDir: string, options: { busyTimeoutMs?: number } = {}): JournalReader {
  const file = journalPath(stateDir)
  if (!fs.existsSync(file)) return new JournalReader(file, null)
  let db: Db | null = null
  try {
    const Driver = loadDriver()
    db = new Driver(file, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS })
    schemaVersion(db) // reads the header: a file that is not a database fails here
    return new JournalReader(file, db)
  } catch (error) {
    try {
      db?.close()
    } catch {
      // reporting the open error
    }
    throw journalError(file, 'cannot open for reading', error)
  }
}

/** Opens, reads the upgrades (newest first) and closes: `dsu history [--json]` in one call. */
export function readHistory(stateDir: string, options: { limit?: number } = {}): HistoryRow[] {
  const reader = openForReading(stateDir)
  try {
    return reader.upgrades(options)
  } finally {
    reader.close()
  }
}

/** An outcome as stored or given; anything unknown reads as a rollback, never as a commit. */
function outcomeOf(value: unknown): Outcome {
  return value === 'committed' || value === 'failed' ? value : 'rolled-back'
}
