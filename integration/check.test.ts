// `dsu check`: a dry run against a snapshot of the running program, which
// keeps serving; exit 0 only when the upgrade would pass.
import t from 'tap'
import { app, dsu, fixture, getJson, post, runSupervised } from './harness.js'

t.test('dsu check: passing, failing, and a lossy round trip', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  for (let i = 0; i < 3; i++) await post(sup.port, '/inc/a')
  await post(sup.port, '/inc/b')

  const pass = await dsu(['check', '--to', app('counter/v2'), '--state-dir', sup.stateDir])
  t.equal(pass.exitCode, 0, pass.stderr)
  t.match(pass.stdout, /counters\s+map ×2\s+→\s+map ×2/)
  t.match(pass.stdout, /counters\[a\]: 3\s+→\s+\{ value: 3, updates: 0 \}/)
  t.match(pass.stdout, /round trip 1\.0\.0 → 2\.0\.0 → 1\.0\.0: identical/)
  t.match(pass.stdout, /check passed/)
  t.same(await getJson(sup.port, '/state'), { version: 1, counters: { a: 3, b: 1 } }, 'the program resumed, untouched')

  const failing = await dsu(['check', '--json', '--to', app('counter/v2'), '--transformer', fixture('transforms/invalid-value.js'), '--snapshot', 'latest', '--state-dir', sup.stateDir])
  t.equal(failing.exitCode, 6)
  const report = JSON.parse(failing.stdout)
  t.equal(report.ok, false)
  t.match(report.errors[0], { code: 'DSU_ERR_VALIDATION', message: /counters\.get\("a"\)\.value: .*got 3\.5/ })

  const lossy = await dsu(['check', '--json', '--to', app('counter/v2'), '--transformer', fixture('transforms/lossy.js'), '--snapshot', 'latest', '--state-dir', sup.stateDir])
  t.equal(lossy.exitCode, 6)
  const trip = JSON.parse(lossy.stdout).roundTrip
  t.equal(trip.checked, true)
  t.match(trip.difference, { path: 'counters.get("a")' }, 'the first difference is named')

  const undeclared = await dsu(['check', '--json', '--to', app('counter/v2'), '--transformer', fixture('transforms/undeclared-root.js'), '--snapshot', 'latest', '--state-dir', sup.stateDir])
  t.equal(undeclared.exitCode, 6)
  t.match(JSON.parse(undeclared.stdout).errors[0], { code: 'DSU_ERR_UNDECLARED_ROOT', message: /counters/ })

  // An explicit chain directory wins over the dsu.transform.js beside the entry
  // (v3's maps 2.0.0 → 3.0.0 and would not apply to this 1.0.0 snapshot).
  const chained = await dsu(['check', '--json', '--to', app('counter/v3'), '--transformers', app('counter/transformers'), '--snapshot', 'latest', '--state-dir', sup.stateDir])
  t.equal(chained.exitCode, 0, chained.stdout)
  t.match(JSON.parse(chained.stdout), { ok: true, to: '3.0.0', after: [{ name: 'tallies', kind: 'map', count: 2 }] })

  t.equal((await post(sup.port, '/inc/a')).body.value, 4, 'still serving after every check')
})
