// `dsu rollback`: back to the previous version through the live path, with
// the reverse transformer; refused when none is declared.
import t from 'tap'
import { app, dsu, getJson, post, runSupervised } from './harness.js'

t.test('rollback v2 → v1 through the reverse transformer, then refusals', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())

  const none = await dsu(['rollback', '--state-dir', sup.stateDir])
  t.equal(none.exitCode, 4, 'nothing to roll back to')
  t.match(none.stderr, 'DSU_ERR_NO_PREVIOUS_VERSION')

  await post(sup.port, '/inc/a')
  t.equal((await dsu(['upgrade', '--to', app('counter/v2'), '--state-dir', sup.stateDir])).exitCode, 0)
  await post(sup.port, '/inc/a')
  await post(sup.port, '/inc/b')
  const back = await dsu(['rollback', '--json', '--state-dir', sup.stateDir])
  t.equal(back.exitCode, 0, back.stdout + back.stderr)
  t.match(JSON.parse(back.stdout), { outcome: 'committed', from: '2.0.0', to: '1.0.0' })
  t.same(await getJson(sup.port, '/state'), { version: 1, counters: { a: 2, b: 1 } }, 'v2 records went back to v1 numbers')
  t.equal((await post(sup.port, '/inc/a')).body.value, 3)

  t.equal((await dsu(['upgrade', '--to', app('counter/v2'), '--state-dir', sup.stateDir])).exitCode, 0)
  t.equal((await dsu(['upgrade', '--to', app('counter/v3'), '--state-dir', sup.stateDir])).exitCode, 0)
  const refused = await dsu(['rollback', '--state-dir', sup.stateDir])
  t.equal(refused.exitCode, 5, 'v3 declares no reverse: refused before v3 pauses')
  t.match(refused.stderr, /in phase spawn: DSU_ERR_NO_REVERSE_TRANSFORMER: .*exports no `reverse`/)
  t.same(await getJson(sup.port, '/state'), { version: 3, counters: { a: 3, b: 1 } }, 'v3 keeps serving, state intact')
})
