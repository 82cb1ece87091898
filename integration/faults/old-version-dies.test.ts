// The old version dying in the middle of an upgrade (kill -9, OOM) is not
// reported as a rollback: either the new version already holds the complete
// state and the upgrade commits, or dsu says the service went down, exits 8,
// and the crash policy takes over (here: restart from the latest checkpoint).
// Noticed at once, not at the next phase deadline (the deadlines here are 120 s).
import fs from 'node:fs'
import t from 'tap'
import { execa } from 'execa'
import { app, cli, dsu, fileExists, fixture, getJson, post, runSupervised, gates } from '../harness.js'

t.test('killed while the new version boots, before any state moved: failed, exit 8, restarted from the checkpoint', async (t) => {
  const g = gates(t)
  const sup = await runSupervised(app('counter/v1/server.js'), ['--restart', 'on-failure', '--timeout', '120s'], g.env)
  t.teardown(() => sup.stop())
  for (let i = 0; i < 3; i++) await post(sup.port, '/inc/a')
  const cp = await dsu(['checkpoint', '--json', '--state-dir', sup.stateDir])
  t.equal(cp.exitCode, 0, cp.stdout)
  await post(sup.port, '/inc/a') // after the checkpoint: lost with the old version, and dsu says so
  const oldPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number

  const upgrade = execa(process.execPath, [cli, 'upgrade', '--to', fixture('gated-boot.js'), '--json', '--state-dir', sup.stateDir], { reject: false })
  await fileExists(g.mark) // the new version is booting
  process.kill(oldPid, 'SIGKILL')
  const r = await upgrade
  t.equal(r.exitCode, 8, String(r.stdout))
  const out = JSON.parse(String(r.stdout))
  t.equal(out.outcome, 'failed')
  t.equal(out.ok, false)
  t.equal(out.error.code, 'DSU_ERR_OLD_VERSION_EXITED')
  t.match(out.error.message, new RegExp(`1\\.0\\.0 \\(pid ${oldPid}\\) was killed by SIGKILL during the upgrade, in phase spawn; dsu run restarts 1\\.0\\.0 from checkpoint \\S+ .*writes since then are lost`))

  await sup.waitForOutput(/dsu: restarted 1\.0\.0 \(pid \d+\) from checkpoint/)
  t.same((await getJson(sup.port, '/state')).counters, { a: 3 }, 'the checkpoint state serves on the same port')
  const [row] = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout).upgrades
  t.equal(row.outcome, 'failed', 'journalled as failed, not rolled back')
  t.equal(row.error.code, 'DSU_ERR_OLD_VERSION_EXITED')
  fs.writeFileSync(g.gate, '')
})

t.test('killed with --restart no: the text output says nothing serves, and dsu run exits', async (t) => {
  const g = gates(t)
  const sup = await runSupervised(app('counter/v1/server.js'), ['--timeout', '120s'], g.env)
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/b')
  const oldPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  const upgrade = execa(process.execPath, [cli, 'upgrade', '--to', fixture('gated-boot.js'), '--state-dir', sup.stateDir], { reject: false })
  await fileExists(g.mark)
  process.kill(oldPid, 'SIGKILL')
  const r = await upgrade
  t.equal(r.exitCode, 8)
  t.match(String(r.stderr), /^FAILED 1\.0\.0 → 0\.1\.0 in phase spawn: DSU_ERR_OLD_VERSION_EXITED: .*does not restart it \(--restart no\)/m)
  t.match(String(r.stderr), /1\.0\.0 is not serving\./)
  t.notMatch(String(r.stderr), /keeps serving/, 'never claims the old version serves')
  const exited = await sup.process
  t.not(exited.exitCode, 0, 'dsu run exits: the program it supervised is dead')
  fs.writeFileSync(g.gate, '')
})

t.test('killed once the new version holds the whole state: the upgrade commits', async (t) => {
  const g = gates(t)
  const sup = await runSupervised(app('counter/v1/server.js'), ['--timeout', '120s'], g.env)
  t.teardown(() => sup.stop())
  for (let i = 0; i < 2; i++) await post(sup.port, '/inc/c')
  const oldPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  const upgrade = execa(process.execPath, [cli, 'upgrade', '--to', fixture('gated-init.js'), '--json', '--state-dir', sup.stateDir], { reject: false })
  await fileExists(g.mark) // state() resolved in the new version: its init runs
  process.kill(oldPid, 'SIGKILL')
  fs.writeFileSync(g.gate, '')
  const r = await upgrade
  t.equal(r.exitCode, 0, String(r.stdout))
  t.equal(JSON.parse(String(r.stdout)).outcome, 'committed')
  t.same(await getJson(sup.port, '/state'), { version: 'gated-init', counters: { c: 2 } }, 'the new version serves the whole state')
})
