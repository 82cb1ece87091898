// SIGSTOP of either version in the middle of an upgrade (issue 11, fault
// matrix): a process that neither answers nor dies. The phase deadline ends
// the wait, the upgrade rolls back and says which process did not answer; the
// old version serves with its state (once continued, when it was the one
// stopped), and the journal row says the same. Under a write load: 0 failed
// requests, 0 lost writes.
import fs from 'node:fs'
import t from 'tap'
import { execa } from 'execa'
import { app, cli, dsu, fileExists, fixture, getJson, runSupervised, startLoad, gates } from '../harness.js'

/** Writes acknowledged under the load, checked against the final state: none lost, none failed. */
async function checkLoad(t: Tap, load: ReturnType<typeof startLoad>, port: number, name: string): Promise<void> {
  const result = await load.stop()
  t.equal(result.errors, 0, 'no connection error or timeout')
  t.equal(result.non2xx, 0, 'no failed request')
  const kept = (await getJson(port, '/state')).counters[name] as number
  t.ok(kept >= load.ok() && kept - load.ok() <= 5, `every acknowledged write kept (${kept} vs ${load.ok()})`)
  const values = load.bodies.map((b) => (JSON.parse(b) as { value: number }).value)
  t.equal(new Set(values).size, values.length, '0 lost writes')
}
type Tap = { equal(a: unknown, b: unknown, m: string): unknown; ok(v: unknown, m: string): unknown }

t.test('the new version stopped while it boots: spawn deadline, rollback, the old version serves', async (t) => {
  const g = gates(t)
  const sup = await runSupervised(app('counter/v1/server.js'), [], g.env)
  t.teardown(() => sup.stop())
  const load = startLoad(sup.port, { path: '/inc/s', connections: 5, keepBodies: true })
  await load.reach(100)
  const oldPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  // The spawn deadline runs from the spawn: long enough for the new version to
  // start on a loaded machine before it is stopped.
  const upgrade = execa(process.execPath, [cli, 'upgrade', '--to', fixture('gated-boot.js'), '--timeout', 'spawn=5s', '--json', '--state-dir', sup.stateDir], { reject: false })
  const first = await Promise.race([fileExists(g.mark).then(() => 'mark'), upgrade.then(() => 'upgrade ended')])
  t.equal(first, 'mark', 'the new version started before its deadline')
  const newPid = Number(fs.readFileSync(g.mark, 'utf8'))
  process.kill(newPid, 'SIGSTOP')
  fs.writeFileSync(g.gate, '') // it could go on now, but it is stopped
  const r = await upgrade
  t.equal(r.exitCode, 5, String(r.stdout))
  const out = JSON.parse(String(r.stdout))
  t.equal(out.outcome, 'rolled-back')
  t.equal(out.error.code, 'DSU_ERR_PHASE_TIMEOUT')
  t.equal(out.error.phase, 'spawn')
  t.match(out.error.message, /spawn: the new version did not boot within 5000 ms/)
  const status = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(status.pid, oldPid, 'the old version serves')
  t.equal(status.version, '1.0.0')
  const [row] = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout).upgrades
  t.equal(row.outcome, 'rolled-back')
  t.equal(row.error.code, 'DSU_ERR_PHASE_TIMEOUT')
  t.equal(row.error.phase, 'spawn')
  await load.reach(load.ok() + 200)
  await checkLoad(t, load, sup.port, 's')
})

t.test('the old version stopped before it quiesces: quiesce deadline, rollback; continued, it serves with its state', async (t) => {
  const g = gates(t)
  const sup = await runSupervised(app('counter/v1/server.js'), [], g.env)
  t.teardown(() => sup.stop())
  const load = startLoad(sup.port, { path: '/inc/q', connections: 5, keepBodies: true })
  await load.reach(100)
  const oldPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  const upgrade = execa(process.execPath, [cli, 'upgrade', '--to', fixture('gated-boot.js'), '--timeout', 'quiesce=1s', '--json', '--state-dir', sup.stateDir], { reject: false })
  await fileExists(g.mark)
  process.kill(oldPid, 'SIGSTOP') // the next thing asked of it is to quiesce
  fs.writeFileSync(g.gate, '')
  const r = await upgrade
  process.kill(oldPid, 'SIGCONT')
  t.equal(r.exitCode, 5, String(r.stdout))
  const out = JSON.parse(String(r.stdout))
  t.equal(out.outcome, 'rolled-back')
  t.equal(out.error.code, 'DSU_ERR_PHASE_TIMEOUT')
  t.equal(out.error.phase, 'quiesce')
  t.match(out.error.message, /quiesce: the old version did not answer within 2000 ms/, 'names the process that did not answer')
  const [row] = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout).upgrades
  t.equal(row.outcome, 'rolled-back')
  t.equal(row.error.code, 'DSU_ERR_PHASE_TIMEOUT')
  t.equal(row.error.phase, 'quiesce')
  // Continued, it gets the quiesce and then the resume it missed, in order.
  await load.reach(load.ok() + 200)
  const status = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(status.pid, oldPid, 'the old version serves')
  t.equal(status.upgrading, false)
  const again = await dsu(['upgrade', '--to', app('counter/v2'), '--json', '--state-dir', sup.stateDir])
  t.equal(again.exitCode, 0, `the next upgrade commits: ${again.stdout}`)
  await load.reach(load.ok() + 100)
  await checkLoad(t, load, sup.port, 'q')
})
