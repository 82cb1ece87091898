// Guarantee 1: one upgrade at a time; a second request is refused by name.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { app, dsu, fixture, getJson, post, runSupervised } from './harness.js'

t.test('a second upgrade while one runs is refused', async (t) => {
  const gate = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-gate-')), 'open')
  const sup = await runSupervised(app('counter/v1/server.js'), [], { DSU_TEST_GATE: gate })
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')

  const first = dsu(['upgrade', '--to', fixture('wait-for-file.js'), '--state-dir', sup.stateDir, '--json', '--version-label', 'gated'])
  await sup.waitForOutput(/upgrading 1\.0\.0 → gated/)
  const status = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(status.upgrading, true, 'status shows the running upgrade')

  const second = await dsu(['upgrade', '--to', app('counter/v2/server.js'), '--state-dir', sup.stateDir])
  t.equal(second.exitCode, 4, 'exit code 4: refused')
  t.match(second.stderr, 'DSU_ERR_UPGRADE_IN_PROGRESS')
  t.match(second.stderr, /already running/)
  const stillOld = await post(sup.port, '/inc/a')
  t.equal(stillOld.body.version, 1, 'the old version serves while the first upgrade waits')

  fs.writeFileSync(gate, '')
  const done = await first
  t.equal(done.exitCode, 0, `the first upgrade commits: ${done.stdout}${done.stderr}`)
  const state = await getJson(sup.port, '/state')
  t.same(state, { version: 'gated', counters: { a: 2 } }, 'the first upgrade carried the state over')
})
