// Guarantee 7 end to end: every upgrade lands in the journal with its phases
// and outcome; a broken journal is reported and never takes the service down.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { app, cli, dsu, fixture, post, runSupervised } from './harness.js'
import { execa } from 'execa'

t.test('history shows a committed and a rolled-back upgrade', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  t.equal((await dsu(['upgrade', '--to', app('counter/v2'), '--state-dir', sup.stateDir])).exitCode, 0)
  t.equal((await dsu(['upgrade', '--to', fixture('exit-before-state.js'), '--state-dir', sup.stateDir, '--version-label', 'broken'])).exitCode, 5)

  const human = await dsu(['history', '--state-dir', sup.stateDir])
  t.equal(human.exitCode, 0)
  t.match(human.stdout, /2\.0\.0 → broken\s+rolled-back .* spawn DSU_ERR_SPAWN_FAILED/)
  t.match(human.stdout, /1\.0\.0 → 2\.0\.0\s+committed/)

  const json = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(json.ok, true)
  t.equal(json.upgrades.length, 2)
  const [failed, committed] = json.upgrades
  t.match(committed, {
    from: '1.0.0', to: '2.0.0', outcome: 'committed', error: null,
    toEntry: app('counter/v2/server.js'), transformer: app('counter/v2/dsu.transform.js'),
    state: { records: 0, roots: 1 },
  })
  for (const phase of ['spawn', 'quiesce', 'transfer', 'transform', 'init', 'ready', 'commit']) {
    t.type(committed.phases[phase], 'number', `committed: ${phase} timed`)
  }
  t.type(committed.pauseMs, 'number')
  t.match(failed, { from: '2.0.0', to: 'broken', outcome: 'rolled-back', error: { code: 'DSU_ERR_SPAWN_FAILED', phase: 'spawn' } })
  t.ok(Date.parse(failed.startedAt) >= Date.parse(committed.startedAt), 'newest first')

  const limited = JSON.parse((await dsu(['history', '--json', '--limit', '1', '--state-dir', sup.stateDir])).stdout)
  t.equal(limited.upgrades.length, 1)
})

t.test('a corrupt journal is reported and the program keeps serving and upgrading', async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-corrupt-'))
  fs.writeFileSync(path.join(stateDir, 'journal.db'), 'this is not an sqlite database, not even close'.repeat(200))
  const sup = await runSupervised(app('counter/v1/server.js'), [], {}, stateDir)
  t.teardown(() => sup.stop())
  await sup.waitForOutput(/DSU_ERR_JOURNAL: .*journal\.db/)
  t.equal((await post(sup.port, '/inc/a')).body.value, 1, 'serving')
  const up = await dsu(['upgrade', '--to', app('counter/v2'), '--state-dir', stateDir])
  t.equal(up.exitCode, 0, 'upgrades still commit')
  t.equal((await post(sup.port, '/inc/a')).body.value, 2, 'state carried over')
  const history = await dsu(['history', '--state-dir', stateDir])
  t.equal(history.exitCode, 7, 'history reports the broken journal: exit 7, a file of the state dir needs attention, not a bug')
  t.match(history.stderr, /DSU_ERR_JOURNAL: .*journal\.db/)
})

t.test('history without any journal says so', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-nojournal-'))
  const r = await execa(process.execPath, [cli, 'history'], { cwd: dir, reject: false })
  t.equal(r.exitCode, 3)
  t.match(String(r.stderr), /no state directory found/)
})
