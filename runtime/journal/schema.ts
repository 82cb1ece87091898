// The journal's schema and its migrations. The version lives in SQLite's
// `PRAGMA user_version`; `migrations[n]` takes a database from version n to
// n + 1. Rules for later versions, so that an older dsu can still read and
// write a newer file (and `dsu history` of either version reads both):
//   - only add tables, indexes and columns; never rename or drop;
//   - a new column is nullable or has a DEFAULT (older writers name their columns);
//   - no CHECK constraints on enumerations (kinds, outcomes): they are checked in
//     TypeScript, so a new kind does not need a table rebuild.
// Readers use `SELECT *` and default a missing column to null.
import type BetterSqlite3 from 'better-sqlite3'

type Db = BetterSqlite3.Database

export const SCHEMA_VERSION = 5

export const migrations: ReadonlyArray<(db: Db) => void> = [
  // 0 → 1: the first schema.
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS versions (
        label      TEXT    NOT NULL,
        entry      TEXT    NOT NULL,
        first_seen INTEGER NOT NULL,   -- epoch ms
        last_seen  INTEGER NOT NULL,   -- epoch ms
        PRIMARY KEY (label, entry)
      ) WITHOUT ROWID;

      CREATE TABLE IF NOT EXISTS upgrades (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, also after pruning
        from_version  TEXT    NOT NULL,
        to_version    TEXT    NOT NULL,
        from_entry    TEXT,
        to_entry      TEXT,
        transformer   TEXT,             -- a file, or a chain description
        started_at    INTEGER NOT NULL, -- epoch ms
        ended_at      INTEGER NOT NULL, -- epoch ms
        outcome       TEXT    NOT NULL, -- 'committed' | 'rolled-back' | 'failed'
        spawn_ms      REAL,             -- per phase; NULL when the phase did not run
        quiesce_ms    REAL,
        transfer_ms   REAL,
        transform_ms  REAL,
        ready_ms      REAL,
        commit_ms     REAL,
        pause_ms      REAL,
        total_ms      REAL    NOT NULL,
        state_bytes   INTEGER,          -- NULL when no state was transferred
        state_records INTEGER,
        state_roots   INTEGER,
        error_code    TEXT,             -- NULL when committed
        error_message TEXT,
        error_phase   TEXT
      );

      CREATE TABLE IF NOT EXISTS events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,       -- epoch ms
        kind    TEXT    NOT NULL,       -- 'start'|'exit'|'crash'|'restart'|'stop'|'checkpoint'
        version TEXT,
        pid     INTEGER,
        code    INTEGER,
        signal  TEXT,
        detail  TEXT
      );
    `)
  },
  // 1 → 2: the failed new version's last stderr lines, for the rollbacks it caused.
  (db) => {
    // NULL unless a rollback kept them.
    db.exec('ALTER TABLE upgrades ADD COLUMN output TEXT')
  },
  // 2 → 3: the phases that were not journalled: pre-copy (it ran, untimed in
  // the journal) and the new version's init (counted in ready before). Rows
  // recorded before keep their values; theirs are NULL.
  (db) => {
    const columns = new Set((db.prepare('PRAGMA table_info(upgrades)').all() as Array<{ name: string }>).map((c) => c.name))
    for (const column of ['precopy_ms', 'init_ms']) {
      if (!columns.has(column)) db.exec(`ALTER TABLE upgrades ADD COLUMN ${column} REAL`)
    }
  },
  // 3 → 4: `dsu run --workers N`: the strategy of an upgrade of several
  // workers, and each worker's outcome, phases and pause (JSON). NULL for one worker.
  (db) => {
    const columns = new Set((db.prepare('PRAGMA table_info(upgrades)').all() as Array<{ name: string }>).map((c) => c.name))
    if (!columns.has('strategy')) db.exec('ALTER TABLE upgrades ADD COLUMN strategy TEXT')
    if (!columns.has('workers')) db.exec('ALTER TABLE upgrades ADD COLUMN workers TEXT')
  },
  // 4 → 5: the transformer as a structured value (JSON of transformer-choice.ts:
  // { kind, path, export? }) beside the `transformer` string, which is still
  // written for older readers. NULL in rows recorded before: readers parse the string.
  (db) => {
    const columns = new Set((db.prepare('PRAGMA table_info(upgrades)').all() as Array<{ name: string }>).map((c) => c.name))
    if (!columns.has('transformer_choice')) db.exec('ALTER TABLE upgrades ADD COLUMN transformer_choice TEXT')
  },
]

/** The schema version of an open database (0: empty file). */
export function schemaVersion(db: Db): number {
  return Number(db.pragma('user_version', { simple: true }) ?? 0)
}

/**
 * Brings `db` to SCHEMA_VERSION inside one IMMEDIATE transaction, so two
 * processes opening the same new file do not both migrate. A file written by a
 * newer dsu (user_version > SCHEMA_VERSION) is left as it is: the rules above
 * keep it writable. Returns the version the file is at afterwards.
 */
export function migrate(db: Db): number {
  if (schemaVersion(db) >= SCHEMA_VERSION) return schemaVersion(db)
  db.exec('BEGIN IMMEDIATE')
  try {
    // Re-read under the write lock: another process may have migrated meanwhile.
    let version = schemaVersion(db)
    if (version < SCHEMA_VERSION) {
      for (; version < SCHEMA_VERSION; version++) migrations[version]!(db)
      db.pragma(`user_version = ${SCHEMA_VERSION}`)
    }
    db.exec('COMMIT')
    return version
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw error
  }
}
