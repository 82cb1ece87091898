// A rollback the new version caused says why: its last stderr lines reach the
// one who ran `dsu upgrade` / `dsu rollback` (text and --json) and the journal
// (`dsu history --json`), made printable; the supervisor's own stderr still
// gets them as they come; the old version keeps serving with its state.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tap from 'tap'
import { app, dsu, fixture, getJson, post, runSupervised, type Supervised } from './harness.js'

const DISTINCTIVE = 'boot-error: cannot open database /nonexistent/db.sqlite (ENOENT)'

async function historyJson(sup: Supervised): Promise<any[]> {
  const history = await dsu(['history', '--json', '--state-dir', sup.stateDir])
  return JSON.parse(history.stdout).upgrades
}

async function assertOldServes(t: Pick<typeof tap, 'same' | 'equal'>, sup: Supervised, before: unknown, pid: number): Promise<void> {
  t.same(await getJson(sup.port, '/state'), before, 'state unchanged after the rollback')
  const after = await post(sup.port, '/inc/a')
  t.equal(after.status, 200, 'the old version still serves')
  const status = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(status.pid, pid, 'the same process serves')
}

tap.test('a new version that writes an error and exits 1 at boot', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'), ['--version-label', '1.0.0'])
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')
  const before = await getJson(sup.port, '/state')
  const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)

  const human = await dsu(['upgrade', '--to', fixture('boot-error.js'), '--state-dir', sup.stateDir])
  t.equal(human.exitCode, 5, 'rolled back')
  const lines = human.stderr.split('\n')
  const at = lines.findIndex((line) => line.startsWith('rolled back'))
  t.match(lines[at], /in phase spawn: DSU_ERR_SPAWN_FAILED: .*exited with code 1/)
  t.equal(lines[at + 1], "  new version's output (last 2 lines):", 'a heading under the rollback line')
  t.equal(lines[at + 2], '    boot-error: starting')
  t.equal(lines[at + 3], `    ${DISTINCTIVE}`, 'the error itself, its colour codes stripped')
  t.notMatch(human.stderr, /\x1b/, 'no escape sequence reaches the terminal')
  t.match(human.stderr, /keeps serving with its state unchanged/)
  t.match(sup.output(), DISTINCTIVE, 'the supervisor still forwards the program\'s stderr')
  await assertOldServes(t, sup, before, pid)

  const json = await dsu(['upgrade', '--json', '--to', fixture('boot-error.js'), '--state-dir', sup.stateDir])
  t.equal(json.exitCode, 5)
  const result = JSON.parse(json.stdout)
  t.match(result, { ok: false, outcome: 'rolled-back', error: { code: 'DSU_ERR_SPAWN_FAILED', phase: 'spawn' } })
  t.equal(result.error.output, `boot-error: starting\n${DISTINCTIVE}`, '--json: error.output, a string')

  const [latest, first] = await historyJson(sup)
  t.equal(latest.error.output, `boot-error: starting\n${DISTINCTIVE}`, 'the journal row keeps it')
  t.equal(first.error.output, `boot-error: starting\n${DISTINCTIVE}`)
  const table = await dsu(['history', '--state-dir', sup.stateDir])
  t.match(table.stdout, `      ${DISTINCTIVE}`, 'dsu history shows it under the failed row')
  await assertOldServes(t, sup, await getJson(sup.port, '/state'), pid)
})

tap.test('a new version that throws after restore', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'), ['--version-label', '1.0.0'])
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')
  const before = await getJson(sup.port, '/state')
  const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)

  const human = await dsu(['upgrade', '--to', fixture('throw-after-restore.js'), '--state-dir', sup.stateDir])
  t.equal(human.exitCode, 5)
  t.match(human.stderr, /in phase init: DSU_ERR_SUCCESSOR_EXITED: .*exited with code 1\n  new version's output \(last \d+ lines\):\n/)
  t.match(human.stderr, /\n {4}Error: throw-after-restore: init failed after restore\n/, 'the uncaught error, as node printed it')
  await assertOldServes(t, sup, before, pid)

  const result = JSON.parse((await dsu(['upgrade', '--json', '--to', fixture('throw-after-restore.js'), '--state-dir', sup.stateDir])).stdout)
  t.match(result.error, { code: 'DSU_ERR_SUCCESSOR_EXITED', phase: 'init' })
  t.match(result.error.output, /^Error: throw-after-restore: init failed after restore$/m)
  const [latest] = await historyJson(sup)
  t.equal(latest.error.output, result.error.output, 'the journal keeps what the CLI showed')
})

tap.test('a rollback the old version caused carries no output of the new one', async (t) => {
  const sup = await runSupervised(fixture('unserializable-state.js'), ['--version-label', '1.0.0'])
  t.teardown(() => sup.stop())
  const result = JSON.parse((await dsu(['upgrade', '--json', '--to', app('counter/v2'), '--state-dir', sup.stateDir])).stdout)
  t.match(result.error, { code: 'DSU_ERR_UNSERIALIZABLE' })
  t.equal(result.error.output, undefined)
  const [latest] = await historyJson(sup)
  t.equal(latest.error.output, null)
})

tap.test('dsu rollback to a version that now fails at boot shows its output', async (t) => {
  const healthy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-healthy-')), 'healthy')
  fs.writeFileSync(healthy, '')
  t.teardown(() => fs.rmSync(path.dirname(healthy), { recursive: true, force: true }))
  const sup = await runSupervised(fixture('boot-error.js'), ['--version-label', '1.0.0'], { DSU_TEST_HEALTHY: healthy })
  t.teardown(() => sup.stop())
  const up = await dsu(['upgrade', '--to', fixture('boot-error.js'), '--version-label', '2.0.0', '--state-dir', sup.stateDir])
  t.equal(up.exitCode, 0, up.stderr)
  await post(sup.port, '/inc/a')
  const before = await getJson(sup.port, '/state')
  const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)

  fs.rmSync(healthy) // 1.0.0's code is broken now
  const back = await dsu(['rollback', '--state-dir', sup.stateDir])
  t.equal(back.exitCode, 5)
  t.match(back.stderr, /rolled back 2\.0\.0 → 1\.0\.0 in phase spawn: DSU_ERR_SPAWN_FAILED/)
  t.match(back.stderr, `  new version's output (last 2 lines):\n    boot-error: starting\n    ${DISTINCTIVE}\n`)
  const json = JSON.parse((await dsu(['rollback', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(json.error.output, `boot-error: starting\n${DISTINCTIVE}`)
  const [latest] = await historyJson(sup)
  t.match(latest, { from: '2.0.0', to: '1.0.0', outcome: 'rolled-back', error: { output: `boot-error: starting\n${DISTINCTIVE}` } })
  await assertOldServes(t, sup, before, pid)
})
