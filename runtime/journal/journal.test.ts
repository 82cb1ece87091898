// The journal against real SQLite files in a temporary state directory: what is
// written reads back in the `dsu history --json` shape, retention, WAL and file
// mode, and every way the file can fail (corrupt, read-only, locked, full)
// reported through onError instead of thrown.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import type { DsuError } from '../errors.js'
import { Journal, journalPath, openForReading, readHistory, type HistoryRow, type UpgradeRecord } from './journal.js'
import { migrations, SCHEMA_VERSION } from './schema.js'

function stateDir(t: { teardown(fn: () => void): unknown }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-journal-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, '.dsu')
}

function collect(): { errors: DsuError[]; onError: (e: DsuError) => void } {
  const errors: DsuError[] = []
  return { errors, onError: (e) => errors.push(e) }
}

const T0 = Date.parse('2025-03-04T05:06:07.000Z')

const committed: UpgradeRecord = {
  outcome: 'committed',
  from: '1.0.0',
  to: '2.0.0',
  fromEntry: '/app/v1/server.js',
  toEntry: '/app/v2/server.js',
  transformer: { kind: 'file', path: '/app/v2/dsu.transform.js' },
  startedAt: T0,
  endedAt: new Date(T0 + 84),
  phases: { spawn: 73.4, precopy: 40.5, quiesce: 1.38, transfer: 5.4, transform: 0.1, init: 0.3, ready: 0.04, commit: 2.38 },
  pauseMs: 8.86,
  totalMs: 83.1,
  state: { bytes: 28, records: 2, roots: 1 },
}

const rolledBack: UpgradeRecord = {
  outcome: 'rolled-back',
  from: '2.0.0',
  to: '3.0.0',
  fromEntry: '/app/v2/server.js',
  toEntry: '/app/v3/server.js',
  transformer: { kind: 'chain', path: '/app/v3/dsu.transformers' },
  startedAt: T0 + 1000,
  endedAt: T0 + 1020,
  phases: { spawn: 12.5, quiesce: 0.5, transfer: 3.25 },
  pauseMs: null,
  totalMs: 19.75,
  state: null,
  error: { code: 'DSU_ERR_UNSERIALIZABLE', message: 'counters.get("a").onChange: function', phase: 'transfer' },
}

const committedRow: HistoryRow = {
  id: 1,
  from: '1.0.0',
  to: '2.0.0',
  fromEntry: '/app/v1/server.js',
  toEntry: '/app/v2/server.js',
  transformer: '/app/v2/dsu.transform.js',
  transformerChoice: { kind: 'file', path: '/app/v2/dsu.transform.js' },
  startedAt: '2025-03-04T05:06:07.000Z',
  endedAt: '2025-03-04T05:06:07.084Z',
  outcome: 'committed',
  phases: { spawn: 73.4, precopy: 40.5, quiesce: 1.38, transfer: 5.4, transform: 0.1, init: 0.3, ready: 0.04, commit: 2.38 },
  pauseMs: 8.86,
  totalMs: 83.1,
  state: { bytes: 28, records: 2, roots: 1 },
  error: null,
}

const rolledBackRow: HistoryRow = {
  id: 2,
  from: '2.0.0',
  to: '3.0.0',
  fromEntry: '/app/v2/server.js',
  toEntry: '/app/v3/server.js',
  transformer: '/app/v3/dsu.transformers/',
  transformerChoice: { kind: 'chain', path: '/app/v3/dsu.transformers' },
  startedAt: '2025-03-04T05:06:08.000Z',
  endedAt: '2025-03-04T05:06:08.020Z',
  outcome: 'rolled-back',
  phases: { spawn: 12.5, precopy: null, quiesce: 0.5, transfer: 3.25, transform: null, init: null, ready: null, commit: null },
  pauseMs: null,
  totalMs: 19.75,
  state: null,
  error: { code: 'DSU_ERR_UNSERIALIZABLE', message: 'counters.get("a").onChange: function', phase: 'transfer', output: null },
}

function upgrade(n: number): UpgradeRecord {
  return { outcome: 'committed', from: `${n}.0.0`, to: `${n + 1}.0.0`, startedAt: T0 + n, endedAt: T0 + n + 1, totalMs: n }
}

t.test('a committed and a rolled-back upgrade round-trip with every field', async (t) => {
  const dir = stateDir(t)
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  t.equal(journal.disabled, false)
  t.equal(journal.recordUpgrade(committed), 1)
  t.equal(journal.recordUpgrade(rolledBack), 2)
  t.same(journal.upgrades(), [rolledBackRow, committedRow])
  t.same(journal.lastUpgrade(), rolledBackRow)
  // The reader (dsu history) sees the same rows while the writer is open, and
  // the JSON is exactly the documented shape.
  const reader = openForReading(dir)
  t.same(reader.upgrades(), [rolledBackRow, committedRow])
  t.same(JSON.parse(JSON.stringify(reader.upgrades({ limit: 1 }))), [rolledBackRow])
  reader.close()
  t.same(journal.versions().map((v) => [v.label, v.entry]), [
    ['1.0.0', '/app/v1/server.js'],
    ['2.0.0', '/app/v2/server.js'],
    ['3.0.0', '/app/v3/server.js'],
  ])
  journal.close()
  t.same(errors, [])
})

t.test('startedAt defaults to endedAt − totalMs, endedAt to now', async (t) => {
  const journal = Journal.open(stateDir(t), { now: () => T0 + 500 })
  t.teardown(() => journal.close())
  journal.recordUpgrade({ outcome: 'committed', from: 'a', to: 'b', totalMs: 100, phases: {}, pauseMs: 3 })
  const row = journal.lastUpgrade()!
  t.equal(row.endedAt, new Date(T0 + 500).toISOString())
  t.equal(row.startedAt, new Date(T0 + 400).toISOString())
  t.same(row.phases, { spawn: null, precopy: null, quiesce: null, transfer: null, transform: null, init: null, ready: null, commit: null })
  t.equal(row.state, null)
  t.equal(row.error, null)
})

t.test('upgrades come newest first, and limit takes the newest', async (t) => {
  const journal = Journal.open(stateDir(t))
  t.teardown(() => journal.close())
  for (let n = 1; n <= 5; n++) journal.recordUpgrade(upgrade(n))
  t.same(journal.upgrades().map((r) => r.id), [5, 4, 3, 2, 1])
  t.same(journal.upgrades({ limit: 2 }).map((r) => r.from), ['5.0.0', '4.0.0'])
  t.same(journal.upgrades({ limit: 0 }), [])
  t.equal(journal.lastUpgrade()!.to, '6.0.0')
})

t.test('retention keeps the last N upgrades and N × 10 events', async (t) => {
  const dir = stateDir(t)
  const journal = Journal.open(dir, { retention: 3 })
  for (let n = 1; n <= 7; n++) journal.recordUpgrade(upgrade(n))
  t.same(journal.upgrades().map((r) => r.id), [7, 6, 5])
  for (let n = 1; n <= 35; n++) journal.recordEvent({ kind: 'checkpoint', detail: `#${n}` })
  const events = journal.events()
  t.equal(events.length, 30)
  t.equal(events[0]!.detail, '#35')
  t.equal(events.at(-1)!.detail, '#6')
  journal.close()
  // Ids keep growing after pruning and across reopen: they are never reused.
  const again = Journal.open(dir, { retention: 3 })
  t.equal(again.recordUpgrade(upgrade(8)), 8)
  t.same(again.upgrades().map((r) => r.id), [8, 7, 6])
  again.close()
})

t.test('events are recorded with every field, newest first', async (t) => {
  const { errors, onError } = collect()
  const journal = Journal.open(stateDir(t), { onError })
  t.teardown(() => journal.close())
  journal.recordEvent({ kind: 'start', at: T0, version: '1.0.0', entry: '/app/v1/server.js', pid: 4242 })
  journal.recordEvent({ kind: 'crash', at: new Date(T0 + 10), version: '1.0.0', pid: 4242, code: null, signal: 'SIGSEGV', detail: { restarts: 1 } })
  journal.recordEvent({ kind: 'exit', at: T0 + 20, version: '1.0.0', pid: 4243, code: 3 })
  journal.recordEvent({ kind: 'stop', at: T0 + 30, detail: 'SIGTERM' })
  t.same(journal.events(), [
    { id: 4, at: '2025-03-04T05:06:07.030Z', kind: 'stop', version: null, pid: null, code: null, signal: null, detail: 'SIGTERM' },
    { id: 3, at: '2025-03-04T05:06:07.020Z', kind: 'exit', version: '1.0.0', pid: 4243, code: 3, signal: null, detail: null },
    { id: 2, at: '2025-03-04T05:06:07.010Z', kind: 'crash', version: '1.0.0', pid: 4242, code: null, signal: 'SIGSEGV', detail: '{"restarts":1}' },
    { id: 1, at: '2025-03-04T05:06:07.000Z', kind: 'start', version: '1.0.0', pid: 4242, code: null, signal: null, detail: null },
  ])
  t.same(journal.events({ limit: 1 }).map((e) => e.kind), ['stop'])
  t.same(journal.versions(), [{ label: '1.0.0', entry: '/app/v1/server.js', firstSeen: '2025-03-04T05:06:07.000Z', lastSeen: '2025-03-04T05:06:07.000Z' }])
  t.same(errors, [])
  // An unknown kind is reported, not thrown.
  t.equal(journal.recordEvent({ kind: 'reboot' as 'start' }), null)
  t.equal(errors.length, 1)
  t.match(errors[0]!.message, /unknown event kind "reboot"/)
})

t.test('the file is in WAL mode, at the current schema version, and 0600', async (t) => {
  const dir = stateDir(t)
  const umask = process.umask(0) // even a permissive umask does not widen it
  let journal: Journal
  try {
    journal = Journal.open(dir)
  } finally {
    process.umask(umask)
  }
  t.teardown(() => journal.close())
  journal.recordEvent({ kind: 'start' })
  const file = journalPath(dir)
  t.equal(fs.statSync(file).mode & 0o777, 0o600)
  t.equal(fs.statSync(`${file}-wal`).mode & 0o777, 0o600)
  const other = new Database(file, { readonly: true })
  t.teardown(() => other.close())
  t.equal(other.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(other.pragma('user_version', { simple: true }), SCHEMA_VERSION)
})

t.test('an existing journal left 0644, with 0644 -wal and -shm, is narrowed to 0600 on open', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = journalPath(dir)
  // Another tool (or an older dsu) made it with a 0022 umask, and still has it open: -wal and -shm exist.
  const other = new Database(file)
  t.teardown(() => other.close())
  other.pragma('journal_mode = WAL')
  other.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)')
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.chmodSync(f, 0o644)
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  t.teardown(() => journal.close())
  t.same(errors, [])
  t.ok(journal.recordEvent({ kind: 'start' }))
  for (const f of [file, `${file}-wal`, `${file}-shm`]) t.equal(fs.statSync(f).mode & 0o777, 0o600, `${path.basename(f)} is 0600`)
})

t.test('narrowing never adds a permission: a 0444 journal becomes 0400, not writable', async (t) => {
  const dir = stateDir(t)
  Journal.open(dir).close()
  fs.chmodSync(journalPath(dir), 0o444)
  const journal = Journal.open(dir, { onError: () => {} })
  t.teardown(() => journal.close())
  t.equal(fs.statSync(journalPath(dir)).mode & 0o777, 0o400)
})

t.test('reopen after close keeps the rows; close is idempotent; writes after close are no-ops', async (t) => {
  const dir = stateDir(t)
  const { errors, onError } = collect()
  const first = Journal.open(dir, { onError })
  first.recordUpgrade(committed)
  first.recordEvent({ kind: 'start', version: '1.0.0' })
  first.close()
  first.close()
  t.equal(first.recordUpgrade(rolledBack), null)
  t.same(first.upgrades(), [])
  const second = Journal.open(dir, { onError })
  t.same(second.upgrades(), [committedRow])
  t.equal(second.events().length, 1)
  t.equal(second.recordUpgrade(rolledBack), 2)
  second.close()
  t.same(readHistory(dir), [rolledBackRow, committedRow])
  t.same(errors, [])
})

t.test('a corrupt file: open does not throw, reports once, and the journal is disabled', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = journalPath(dir)
  const garbage = Buffer.alloc(8192, 0)
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff
  fs.writeFileSync(file, garbage)
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  t.equal(journal.disabled, true)
  t.equal(errors.length, 1)
  t.equal(errors[0]!.code, 'DSU_ERR_JOURNAL')
  t.ok(errors[0]!.message.includes(file), 'the message names the file')
  t.match(errors[0]!.message, /SQLITE_NOTADB/)
  t.equal(journal.disabledBy, errors[0])
  t.equal(journal.recordUpgrade(committed), null)
  t.equal(journal.recordEvent({ kind: 'start' }), null)
  journal.noteVersion('1.0.0', '/app/v1/server.js')
  t.same(journal.upgrades(), [])
  t.same(journal.events(), [])
  t.equal(journal.lastUpgrade(), null)
  journal.close()
  t.equal(errors.length, 1, 'reported once, not on every record')
  t.same(fs.readFileSync(file), garbage, 'the file is left as it was, for inspection')
  // dsu history, by contrast, says why.
  t.throws(() => openForReading(dir).upgrades(), { code: 'DSU_ERR_JOURNAL' })
})

t.test('dsu history on a state dir without a journal reads as empty', async (t) => {
  const dir = stateDir(t)
  t.same(readHistory(dir), [])
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(journalPath(dir), '') // created, never migrated
  const reader = openForReading(dir)
  t.same(reader.upgrades(), [])
  t.same(reader.events(), [])
  t.equal(reader.lastUpgrade(), null)
  reader.close()
})

t.test('a database that refuses writes: record reports SQLITE_READONLY and does not throw', async (t) => {
  const dir = stateDir(t)
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError, pragmas: ['query_only = 1'] })
  t.teardown(() => journal.close())
  t.equal(journal.disabled, false)
  t.equal(journal.recordUpgrade(committed), null)
  t.equal(journal.recordEvent({ kind: 'start' }), null)
  t.equal(errors.length, 2)
  for (const e of errors) {
    t.equal(e.code, 'DSU_ERR_JOURNAL')
    t.ok(e.message.includes(journalPath(dir)))
    t.match(e.message, /SQLITE_READONLY/)
  }
  t.same(journal.upgrades(), [], 'reads still work')
})

// File permissions do not bind root, so as root the scenario runs in a child
// process as nobody (it needs to read this package's dist/ and node_modules/).
t.test('a read-only file or directory: record reports through onError and does not throw', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-journal-ro-'))
  t.teardown(() => {
    fs.chmodSync(root, 0o700)
    for (const d of fs.readdirSync(root)) fs.chmodSync(path.join(root, d), 0o700)
    fs.rmSync(root, { recursive: true, force: true })
  })
  const asRoot = process.getuid?.() === 0
  const writableDir = path.join(root, 'file-ro')
  const readonlyDir = path.join(root, 'dir-ro')
  for (const dir of [writableDir, readonlyDir]) {
    const j = Journal.open(dir)
    j.recordUpgrade(committed)
    j.close()
    // Owned by root when root: readable by nobody, not writable.
    fs.chmodSync(journalPath(dir), asRoot ? 0o644 : 0o444)
  }
  fs.chmodSync(writableDir, 0o777)
  fs.chmodSync(readonlyDir, 0o555)
  fs.chmodSync(root, 0o755)

  const script = `
    import { Journal } from ${JSON.stringify(new URL('./journal.js', import.meta.url).href)}
    const out = {}
    for (const [name, dir] of Object.entries(${JSON.stringify({ file: writableDir, dir: readonlyDir })})) {
      const errors = []
      let threw = null
      let ids = []
      let rows = -1
      try {
        const j = Journal.open(dir, { onError: (e) => errors.push({ code: e.code, message: e.message }) })
        ids.push(j.recordUpgrade({ outcome: 'committed', from: 'a', to: 'b', totalMs: 1 }))
        ids.push(j.recordEvent({ kind: 'start', version: 'a' }))
        rows = j.upgrades().length
        j.close()
      } catch (e) { threw = String(e) }
      out[name] = { errors, threw, ids, rows }
    }
    process.stdout.write(JSON.stringify(out))
  `
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: root,
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  })
  if (child.status !== 0 && /EACCES|ERR_MODULE_NOT_FOUND|Cannot find module/.test(child.stderr)) {
    t.pass('read-only scenario', { skip: `nobody cannot load the package here: ${child.stderr.split('\n')[0]}` })
    return
  }
  t.equal(child.status, 0, child.stderr)
  const out = JSON.parse(child.stdout) as Record<'file' | 'dir', { errors: { code: string; message: string }[]; threw: string | null; ids: (number | null)[]; rows: number }>

  // A read-only file in a writable directory opens (reads work) and every write reports.
  t.equal(out.file.threw, null)
  t.same(out.file.ids, [null, null])
  t.equal(out.file.rows, 1, 'the existing row still reads')
  t.equal(out.file.errors.length, 2)
  for (const e of out.file.errors) {
    t.equal(e.code, 'DSU_ERR_JOURNAL')
    t.ok(e.message.includes(journalPath(writableDir)))
    t.match(e.message, /READONLY/)
  }
  // A read-only directory: the journal cannot even set up WAL; disabled, reported once.
  t.equal(out.dir.threw, null)
  t.same(out.dir.ids, [null, null])
  t.ok(out.dir.errors.length >= 1)
  for (const e of out.dir.errors) {
    t.equal(e.code, 'DSU_ERR_JOURNAL')
    t.ok(e.message.includes(journalPath(readonlyDir)))
  }
  t.same(readHistory(writableDir).map((r) => r.from), ['1.0.0'], 'nothing was half-written')
})

t.test('a journal locked by another writer: record reports SQLITE_BUSY and does not throw', async (t) => {
  const dir = stateDir(t)
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError, busyTimeoutMs: 10 })
  t.teardown(() => journal.close())
  journal.recordUpgrade(committed)
  const other = new Database(journalPath(dir))
  t.teardown(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  t.equal(journal.recordUpgrade(rolledBack), null)
  t.equal(journal.recordEvent({ kind: 'exit', code: 0 }), null)
  t.equal(errors.length, 2)
  for (const e of errors) {
    t.equal(e.code, 'DSU_ERR_JOURNAL')
    t.ok(e.message.includes(journalPath(dir)))
    t.match(e.message, /SQLITE_BUSY/)
  }
  t.same(journal.upgrades().map((r) => r.id), [1], 'WAL: reads go on under the lock')
  other.exec('COMMIT')
  t.equal(journal.disabled, false, 'a lock is transient: the journal stays enabled')
  t.equal(journal.recordUpgrade(rolledBack), 2)
  t.equal(errors.length, 2)
})

t.test('a full disk (SQLITE_FULL) is reported, not thrown, and earlier rows stay', async (t) => {
  const dir = stateDir(t)
  const { errors, onError } = collect()
  // max_page_count pins the file at its current size: the next page it needs is "disk full".
  const journal = Journal.open(dir, { onError, pragmas: ['max_page_count = 1'] })
  t.teardown(() => journal.close())
  t.equal(journal.recordUpgrade(committed), 1, 'a small row still fits in the pages there are')
  const big: UpgradeRecord = { ...rolledBack, error: { code: 'DSU_ERR_TRANSFORM_FAILED', message: 'x'.repeat(64 * 1024), phase: 'transform' } }
  t.equal(journal.recordUpgrade(big), null)
  t.equal(errors.length, 1)
  t.equal(errors[0]!.code, 'DSU_ERR_JOURNAL')
  t.match(errors[0]!.message, /SQLITE_FULL/)
  t.ok(errors[0]!.message.includes(journalPath(dir)))
  t.equal(journal.disabled, false)
  t.same(journal.upgrades(), [committedRow])
})

t.test('an onError that throws does not take the caller down', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(journalPath(dir), Buffer.alloc(4096, 0xab))
  const journal = Journal.open(dir, { onError: () => { throw new Error('reporter broke') } })
  t.equal(journal.disabled, true)
  t.equal(journal.recordUpgrade(committed), null)
  journal.close()
})

t.test('a file written by a newer dsu (an added column, a higher user_version) still reads and writes', async (t) => {
  const dir = stateDir(t)
  Journal.open(dir).close()
  const other = new Database(journalPath(dir))
  other.exec('ALTER TABLE upgrades ADD COLUMN connections_moved INTEGER DEFAULT 0')
  other.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  other.close()
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  t.equal(journal.recordUpgrade(committed), 1)
  t.same(journal.upgrades(), [committedRow])
  journal.close()
  t.same(readHistory(dir), [committedRow])
  t.same(errors, [])
})

t.test('a rollback keeps the new version\'s output; other rows read it as null', async (t) => {
  const journal = Journal.open(stateDir(t))
  t.teardown(() => journal.close())
  const output = 'Error: cannot reach the database\n    at boot (/app/v3/server.js:4:7)'
  journal.recordUpgrade(committed)
  journal.recordUpgrade({ ...rolledBack, error: { ...rolledBack.error!, output } })
  const [failed, ok] = journal.upgrades()
  t.same(failed!.error, { ...rolledBackRow.error, output })
  t.equal(ok!.error, null)
})

t.test('a schema-1 file is migrated: its rows read with output null, new rows keep it', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true })
  const old = new Database(journalPath(dir))
  migrations[0]!(old)
  old.pragma('user_version = 1')
  old.prepare(`INSERT INTO upgrades (from_version, to_version, started_at, ended_at, outcome, total_ms, error_code, error_message, error_phase)
    VALUES ('1.0.0', '2.0.0', ?, ?, 'rolled-back', 5, 'DSU_ERR_SPAWN_FAILED', 'spawn: exited with code 1', 'spawn')`).run(T0, T0 + 5)
  old.close()
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  t.teardown(() => journal.close())
  journal.recordUpgrade({ ...rolledBack, error: { ...rolledBack.error!, output: 'boom' } })
  const [recorded, before] = journal.upgrades()
  t.equal(recorded!.error!.output, 'boom')
  t.same(before!.error, { code: 'DSU_ERR_SPAWN_FAILED', message: 'spawn: exited with code 1', phase: 'spawn', output: null })
  const check = new Database(journalPath(dir), { readonly: true })
  t.teardown(() => check.close())
  t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.same(errors, [])
})

t.test('a schema 1 journal migrates to add output, precopy and init, keeping its rows', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true })
  // The file as the previous dsu wrote it: schema 1, one upgrade.
  const old = new Database(journalPath(dir))
  migrations[0]!(old)
  old.pragma('user_version = 1')
  old.prepare(`INSERT INTO upgrades (from_version, to_version, started_at, ended_at, outcome,
    spawn_ms, quiesce_ms, transfer_ms, transform_ms, ready_ms, commit_ms, pause_ms, total_ms)
    VALUES ('1.0.0', '2.0.0', ?, ?, 'committed', 73.4, 1.38, 5.4, 0.1, 0.34, 2.38, 8.86, 83.1)`).run(T0, T0 + 84)
  old.close()

  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  const [before] = journal.upgrades()
  t.same(before?.phases, { spawn: 73.4, precopy: null, quiesce: 1.38, transfer: 5.4, transform: 0.1, init: null, ready: 0.34, commit: 2.38 },
    'the old row keeps its timings; the phases it did not measure read as null')
  t.equal(before?.id, 1)
  t.equal(journal.recordUpgrade(committed), 2, 'ids go on after the old rows')
  t.same(journal.upgrades()[0]?.phases, committedRow.phases, 'new rows keep precopy and init')
  journal.close()
  t.same(errors, [])
  const check = new Database(journalPath(dir), { readonly: true })
  t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.equal(SCHEMA_VERSION, 5)
  check.close()
})

t.test('schema 4: an upgrade of several workers keeps its strategy and each worker; a schema-3 file migrates, its rows without them', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true })
  const old = new Database(journalPath(dir))
  for (const m of migrations.slice(0, 3)) m(old)
  old.pragma('user_version = 3')
  old.close()
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  t.teardown(() => journal.close())
  journal.recordUpgrade(committed)
  const workers = [
    { worker: 0, outcome: 'committed', from: '1.0.0', to: '2.0.0', pid: 10, phases: { spawn: 70, quiesce: 1 }, pauseMs: 8, totalMs: 80 },
    { worker: 1, outcome: 'rolled-back', from: '1.0.0', to: '2.0.0', pid: 11, phases: { spawn: 71 }, pauseMs: 3, totalMs: 75, error: { code: 'DSU_ERR_TRANSFORM_FAILED', message: 'x', phase: 'transform' } },
  ]
  journal.recordUpgrade({ ...committed, strategy: 'rolling', workers })
  const [fleet, single] = journal.upgrades()
  t.equal(fleet!.strategy, 'rolling')
  t.same(fleet!.workers, workers)
  t.notOk('strategy' in single! || 'workers' in single!, 'one worker: no new keys, the row reads as before')
  t.same(errors, [])
})

t.test('a schema-4 file: its transformer strings read as structured choices; new rows store both', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true })
  const old = new Database(journalPath(dir))
  for (const m of migrations.slice(0, 4)) m(old)
  old.pragma('user_version = 4')
  const insert = old.prepare(`INSERT INTO upgrades (from_version, to_version, transformer, started_at, ended_at, outcome, total_ms)
    VALUES (?, ?, ?, ?, ?, 'committed', 1)`)
  insert.run('1.0.0', '2.0.0', '/app/v2/dsu.transform.js', T0, T0 + 1)
  insert.run('2.0.0', '3.0.0', '/app/v3/dsu.transformers/', T0 + 2, T0 + 3)
  insert.run('3.0.0', '2.0.0', '/app/v3/dsu.transform.js#reverse', T0 + 4, T0 + 5)
  insert.run('2.0.0', '2.1.0', null, T0 + 6, T0 + 7)
  old.close()
  const { errors, onError } = collect()
  const journal = Journal.open(dir, { onError })
  t.teardown(() => journal.close())
  t.same(journal.upgrades().map((r) => [r.transformer, r.transformerChoice]), [
    [null, null],
    ['/app/v3/dsu.transform.js#reverse', { kind: 'reverse', path: '/app/v3/dsu.transform.js' }],
    ['/app/v3/dsu.transformers/', { kind: 'chain', path: '/app/v3/dsu.transformers' }],
    ['/app/v2/dsu.transform.js', { kind: 'file', path: '/app/v2/dsu.transform.js' }],
  ])
  journal.recordUpgrade({ outcome: 'committed', from: '2.1.0', to: '3.0.0', totalMs: 1, transformer: { kind: 'file', path: '/app/t.js', export: 'up' } })
  t.same(journal.lastUpgrade()!.transformer, '/app/t.js#up', 'the string form, for older readers')
  t.same(journal.lastUpgrade()!.transformerChoice, { kind: 'file', path: '/app/t.js', export: 'up' })
  const check = new Database(journalPath(dir), { readonly: true })
  t.teardown(() => check.close())
  t.equal(JSON.parse((check.prepare('SELECT transformer_choice FROM upgrades ORDER BY id DESC LIMIT 1').get() as { transformer_choice: string }).transformer_choice).export, 'up')
  t.same(errors, [])
})
