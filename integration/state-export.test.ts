// `dsu state`, `dsu state export` and `dsu run --restore <file.json>` with
// real processes: a program holding registered class instances, an LRUCache
// through registerType and Map/Set/Date/BigInt/Uint8Array/shared state is
// inspected, exported to a superjson file, and a cold start from that file
// serves the same state (also under another version label); every file the
// restore must refuse is refused with its named error, before any program serves.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { dsu, fixture, getJson, post, runSupervised } from './harness.js'

const entry = fixture('state-export.js')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-state-export-'))
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }))
const snap = path.join(tmp, 'snap.json')

t.test('inspect, export, restore: the same state, with instances of the program\'s own classes', async (t) => {
  const sup = await runSupervised(entry)
  t.teardown(() => sup.stop())
  await post(sup.port, '/change')
  const before = await getJson(sup.port, '/dump')
  t.match(before, { isCache: true, cache: ['k1', 'k2'], hits: 1, shared: true })

  const shown = await dsu(['state', '--state-dir', sup.stateDir, '--json'])
  t.equal(shown.exitCode, 0, shown.stderr)
  const report = JSON.parse(shown.stdout)
  t.match(report, { ok: true, version: '0.1.0', checkpoint: { id: String } })
  t.same(report.roots.map((r: { name: string; kind: string; count: number; classes: string[]; types: string[] }) => [r.name, r.kind, r.count, r.classes, r.types]), [
    ['accounts', 'map', 3, ['Account'], []],
    ['cache', 'value', 1, [], ['lru']],
    ['misc', 'object', 5, [], []],
  ])
  t.match(report.roots[0].samples[0], { key: "'a0'", value: "Account { id: 'a0', balance: 5n, opened: 2026-01-01T00:00:00.000Z }" })
  t.ok(report.roots.every((r: { bytes: number }) => r.bytes > 0), 'bytes per root')
  const text = await dsu(['state', '--state-dir', sup.stateDir, '--root', 'accounts', '--samples', '1'])
  t.equal(text.exitCode, 0, text.stderr)
  t.match(text.stdout, /accounts\s+map ×3 .*\(classes: Account\)\n {4}'a0' → Account \{ id: 'a0', balance: 5n/)
  t.notMatch(text.stdout, /cache/, '--root shows that root only')
  const latest = JSON.parse((await dsu(['state', '--snapshot', 'latest', '--state-dir', sup.stateDir, '--json'])).stdout)
  t.equal(latest.checkpoint.id > report.checkpoint.id, true, '--snapshot latest reads the newest checkpoint, the one the last dsu state took')
  t.same(latest.roots.map((r: { name: string }) => r.name), ['accounts', 'cache', 'misc'])

  const exported = await dsu(['state', 'export', snap, '--state-dir', sup.stateDir, '--json'])
  t.equal(exported.exitCode, 0, exported.stderr)
  t.match(JSON.parse(exported.stdout), { ok: true, file: snap, version: '0.1.0', roots: 3 })
  t.equal(fs.statSync(snap).mode & 0o777, 0o600, 'the file is the user\'s alone')
  const file = JSON.parse(fs.readFileSync(snap, 'utf8'))
  t.match(file, { format: 'dsu-state/1', version: '0.1.0' })
  t.match(JSON.stringify(file.roots.meta), /\["class","Account"\].*\["custom","lru"\]/, 'class and type recorded as superjson metadata')
  const stdout = await dsu(['state', 'export', '--root', 'misc', '--state-dir', sup.stateDir])
  t.same(Object.keys(JSON.parse(stdout.stdout).roots.json), ['misc'], 'without a file: to stdout, --root picks')
  t.same(await getJson(sup.port, '/dump'), before, 'the running program kept its state')

  for (const label of [[], ['--version-label', '2.0.0']]) {
    const restored = await runSupervised(entry, ['--restore', snap, ...label])
    t.teardown(() => restored.stop())
    // The supervisor logs it once the program is active, maybe after the program's own line.
    await restored.waitForOutput(/restored state file .*snap\.json \(0\.1\.0, \d+ records\)/)
    t.same(await getJson(restored.port, '/dump'), before, `restored ${label.length ? 'under another version' : 'as it was'}: instances, cache order, Set, Date, BigInt, bytes, shared reference`)
    await post(restored.port, '/change')
    t.equal((await getJson(restored.port, '/dump')).accounts[0].balance, '10', 'instances have the program\'s methods')
    await restored.stop()
  }
})

t.test('refusals: each with its named error, and no program serves', async (t) => {
  const good = fs.readFileSync(snap, 'utf8')
  const write = (name: string, text: string): string => {
    const file = path.join(tmp, name)
    fs.writeFileSync(file, text)
    return file
  }
  const cases: Array<[string, string, number, RegExp, Record<string, string>?]> = [
    ['missing file', path.join(tmp, 'missing.json'), 7, /DSU_ERR_STATE_FILE: cannot read .*missing\.json: ENOENT/],
    ['malformed file', write('malformed.json', good.slice(0, 100)), 7, /DSU_ERR_STATE_FILE: .*malformed\.json: not JSON/],
    ['wrong shape', write('shape.json', JSON.stringify({ format: 'dsu-state/1', version: '0.1.0', roots: [] })), 7, /DSU_ERR_STATE_FILE: .*shape\.json: "roots" must be superjson's \{ json, meta \}, got an array/],
    ['not a state file', write('other.json', '{"name":"x","version":"1.0.0"}'), 7, /DSU_ERR_STATE_FILE: .*"format" is missing, expected "dsu-state\/1"/],
    ['a directory', tmp + '/', 7, /DSU_ERR_STATE_FILE: .* is not a regular file/],
    ['unknown class', write('ghost.json', good.replaceAll('"Account"', '"Ghost"')), 7, /DSU_ERR_CLASS_MISSING: the state holds instances of class Ghost, which this version does not register; registerClass\(Ghost\)/],
    ['class the program does not register', snap, 7, /DSU_ERR_CLASS_MISSING: .*class Account/, { STATE_EXPORT_NO_ACCOUNT: '1' }],
  ]
  for (const [what, file, exitCode, message, env] of cases) {
    t.test(what, async (t) => {
      const stateDir = fs.mkdtempSync(path.join(tmp, 'sd-'))
      const r = await dsu(['run', entry, '--state-dir', stateDir, '--restore', file], { env: env ?? {} })
      t.equal(r.exitCode, exitCode, r.stderr)
      t.match(r.stderr, message)
      t.notMatch(r.stdout + r.stderr, /listening/, 'the program never served')
    })
  }
})
