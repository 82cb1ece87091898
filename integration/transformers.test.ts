// The transformer DSL in real upgrades: chains, pre-flight refusals while the
// old version serves (no pause at all), validation and rule errors that roll
// back naming the path, and the ready-time check for forgotten roots.
import t from 'tap'
import { app, dsu, fixture, getJson, post, runSupervised, startLoad } from './harness.js'

const transform = (name: string): string => fixture(`transforms/${name}`)

t.test('a chain v1 → v2 → v3 in one upgrade', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')
  await post(sup.port, '/inc/a')
  const r = await dsu(['upgrade', '--to', app('counter/v3'), '--transformers', app('counter/transformers'), '--state-dir', sup.stateDir, '--json'])
  t.equal(r.exitCode, 0, r.stdout + r.stderr)
  t.same(await getJson(sup.port, '/state'), { version: 3, counters: { a: 2 } })
  const history = JSON.parse((await dsu(['history', '--json', '--limit', '1', '--state-dir', sup.stateDir])).stdout)
  t.match(history.upgrades[0].transformer, /counter\/transformers\/$/)
})

interface Refusal { name: string; args: string[]; phase: string; code: string; message: RegExp; paused: boolean }
const refusals: Refusal[] = [
  {
    name: 'a missing link in the chain', phase: 'spawn', code: 'DSU_ERR_CHAIN_MISSING_LINK', paused: false,
    args: ['--to', app('counter/v3'), '--transformers', app('counter/transformers-gap')], message: /1\.0\.0 → 3\.0\.0/,
  },
  {
    name: 'an old root the new version neither declares nor drops (pre-flight)', phase: 'spawn', code: 'DSU_ERR_UNDECLARED_ROOT', paused: false,
    args: ['--to', app('counter/v2'), '--transformer', transform('undeclared-root.js')], message: /counters/,
  },
  {
    name: 'transformed state that fails its schema', phase: 'transform', code: 'DSU_ERR_VALIDATION', paused: true,
    args: ['--to', app('counter/v2'), '--transformer', transform('invalid-value.js')], message: /1\.0\.0 → 2\.0\.0: counters\.get\("a"\)\.value: .*got 2\.5/,
  },
  {
    name: 'a rule that does not fit the state', phase: 'transform', code: 'DSU_ERR_TRANSFORM_RULE', paused: true,
    args: ['--to', app('counter/v2'), '--transformer', transform('wrong-expectation.js')], message: /1\.0\.0 → 2\.0\.0, rule convert\(counters\.\*\) at counters\.get\("a"\): expected string, got number/,
  },
  {
    name: 'a transferred root the new version never marks (checked at the end of init)', phase: 'init', code: 'DSU_ERR_UNDECLARED_ROOT', paused: true,
    args: ['--to', app('counter/v2'), '--transformer', transform('extra-root.js')], message: /neither marks nor drops the root leftover/,
  },
]

for (const c of refusals) {
  t.test(`refused: ${c.name}`, async (t) => {
    const sup = await runSupervised(app('counter/v1/server.js'))
    t.teardown(() => sup.stop())
    await post(sup.port, '/inc/a')
    await post(sup.port, '/inc/a')
    const before = await getJson(sup.port, '/state')
    const r = await dsu(['upgrade', '--json', '--state-dir', sup.stateDir, ...c.args])
    t.equal(r.exitCode, 5, r.stderr)
    const result = JSON.parse(r.stdout)
    t.match(result.error, { phase: c.phase, code: c.code, message: c.message })
    if (!c.paused) {
      t.equal(result.pauseMs, null, 'the old version never paused')
      t.notOk('quiesce' in result.phases, 'no quiesce phase ran')
    }
    t.same(await getJson(sup.port, '/state'), before, 'state unchanged')
    t.equal((await post(sup.port, '/inc/a')).body.value, 3, 'v1 still serves')
  })
}

t.test('a pre-flight refusal under load: no failed request, no pause', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  const load = startLoad(sup.port, { path: '/inc/hits', connections: 10 })
  await load.reach(500)
  const r = await dsu(['upgrade', '--json', '--to', app('counter/v2'), '--transformer', transform('undeclared-root.js'), '--state-dir', sup.stateDir])
  t.equal(JSON.parse(r.stdout).pauseMs, null)
  await load.reach(load.ok() + 500)
  const result = await load.stop()
  t.equal(result.errors + result.timeouts + result.non2xx, 0, 'every request succeeded')
})
