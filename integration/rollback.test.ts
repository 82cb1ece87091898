// Every failure before commit leaves the old version serving with its state
// unchanged, and `dsu upgrade` exits 5 naming the phase and the cause.
import t from 'tap'
import { request } from 'undici'
import { app, dsu, fixture, getJson, post, runSupervised, type Supervised } from './harness.js'

interface Case {
  name: string
  old?: string
  args: (sup: Supervised) => string[]
  before?: (sup: Supervised) => Promise<void>
  phase: string
  code: string
  message?: RegExp
}

const counterV2 = app('counter/v2/server.js')
const cases: Case[] = [
  {
    name: 'the new version exits before asking for state',
    args: () => ['--to', fixture('exit-before-state.js')],
    phase: 'spawn', code: 'DSU_ERR_SPAWN_FAILED', message: /exited with code 3/,
  },
  {
    name: 'the new version throws after restore',
    args: () => ['--to', fixture('throw-after-restore.js')],
    phase: 'init', code: 'DSU_ERR_SUCCESSOR_EXITED', message: /exited with code 1/,
  },
  {
    name: 'the transformer throws',
    args: () => ['--to', counterV2, '--transformer', fixture('throwing-transform.js')],
    phase: 'transform', code: 'DSU_ERR_TRANSFORM_FAILED', message: /cannot map counters/,
  },
  {
    name: 'the new version is not ready before the deadline',
    args: () => ['--to', fixture('never-ready.js'), '--timeout', 'init=1500'],
    phase: 'init', code: 'DSU_ERR_READY_TIMEOUT',
  },
  {
    name: 'a value cannot be serialized',
    old: fixture('unserializable-state.js'),
    args: () => ['--to', counterV2],
    phase: 'transfer', code: 'DSU_ERR_UNSERIALIZABLE', message: /counters\.get\("a"\)\.onChange: function/,
  },
  {
    name: 'quiescence is not reached before the deadline',
    old: fixture('slow-request.js'),
    before: async (sup) => {
      // A request that never ends until released; wait until the server holds it.
      void request(`http://127.0.0.1:${sup.port}/slow`).then((r) => r.body.text()).catch(() => {})
      while ((await getJson(sup.port, '/state')).held !== 1) { /* the slow request is on its way */ }
    },
    args: () => ['--to', counterV2, '--timeout', 'quiesce=1s'], // only quiescence is short
    phase: 'quiesce', code: 'DSU_ERR_QUIESCE_TIMEOUT', message: /in flight/,
  },
]

for (const c of cases) {
  t.test(`rollback: ${c.name}`, async (t) => {
    // Fixture programs stand in for counter 1.0.0, which the v2 transformer expects.
    const sup = await runSupervised(c.old ?? app('counter/v1/server.js'), ['--version-label', '1.0.0'])
    t.teardown(() => sup.stop())
    await post(sup.port, '/inc/a')
    await post(sup.port, '/inc/a')
    await c.before?.(sup)
    const before = await getJson(sup.port, '/state')
    const statusBefore = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)

    const human = await dsu(['upgrade', '--state-dir', sup.stateDir, ...c.args(sup)])
    t.equal(human.exitCode, 5, 'exit code 5: rolled back')
    t.match(human.stderr, `rolled back`)
    t.match(human.stderr, `in phase ${c.phase}: ${c.code}`, 'the message names the phase and the code')
    t.match(human.stderr, /keeps serving with its state unchanged/)

    t.same(await getJson(sup.port, '/state'), before, 'state unchanged after the rollback')
    const after = await post(sup.port, '/inc/a')
    t.equal(after.status, 200, 'the old version still serves')
    t.equal(after.body.version, 1)
    const statusAfter = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
    t.equal(statusAfter.pid, statusBefore.pid, 'the same process serves')
    t.equal(statusAfter.lastUpgrade.outcome, 'rolled-back')

    // The same failure, as a pipeline sees it.
    const json = await dsu(['upgrade', '--json', '--state-dir', sup.stateDir, ...c.args(sup)])
    t.equal(json.exitCode, 5)
    const result = JSON.parse(json.stdout)
    t.equal(result.ok, false)
    t.equal(result.outcome, 'rolled-back')
    t.equal(result.error.phase, c.phase)
    t.equal(result.error.code, c.code)
    if (c.message) t.match(result.error.message, c.message)
    await request(`http://127.0.0.1:${sup.port}/release`).then((r) => r.body.text())
  })
}
