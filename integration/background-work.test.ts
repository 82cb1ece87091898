// Guarantee 2 for background work: transactions, update points and paused
// timers stop before the checkpoint, so no step or tick is lost or repeated.
import t from 'tap'
import { dsu, fixture, getJson, post, runSupervised, startLoad } from './harness.js'

t.test('loops and timers carry on across upgrades with no step lost or repeated', async (t) => {
  const entry = fixture('ticker.js')
  const sup = await runSupervised(entry, ['--version-label', 'a'])
  t.teardown(() => sup.stop())
  await sup.waitForOutput(/step a 20\b/)
  const up1 = await dsu(['upgrade', '--to', entry, '--version-label', 'b', '--state-dir', sup.stateDir])
  t.equal(up1.exitCode, 0, up1.stderr)
  await sup.waitForOutput(/step b \d+\n[\s\S]*step b \d+\n[\s\S]*tick b \d+/)
  const up2 = await dsu(['upgrade', '--to', entry, '--version-label', 'c', '--state-dir', sup.stateDir])
  t.equal(up2.exitCode, 0, up2.stderr)
  await sup.waitForOutput(/step c \d+\n[\s\S]*step c \d+\n[\s\S]*tick c \d+/)

  for (const kind of ['step', 'tick']) {
    const seen = [...sup.output().matchAll(new RegExp(`^${kind} (\\w+) (\\d+)$`, 'gm'))].map((m) => ({ v: m[1]!, n: Number(m[2]) }))
    const ns = seen.map((s) => s.n)
    const gaps = ns.filter((n, i) => n !== i + 1)
    t.equal(gaps.length, 0, `${kind}s are numbered 1..${ns.length} with no gap or repeat`)
    const order = seen.map((s) => s.v).join('')
    t.match(order, /^a+b+c+$/, `${kind}s: once the new version ran, the old one never did`)
  }
})

t.test('a transaction inside a request handler does not deadlock quiescence', async (t) => {
  const entry = fixture('handler-transaction.js')
  const sup = await runSupervised(entry, ['--version-label', 'a'])
  t.teardown(() => sup.stop())
  const load = startLoad(sup.port, { path: '/', connections: 8 })
  await load.reach(300)
  const up = await dsu(['upgrade', '--to', entry, '--version-label', 'b', '--timeout', '3000', '--state-dir', sup.stateDir, '--json'])
  await load.reach(load.ok() + 300)
  const result = await load.stop()
  t.equal(JSON.parse(up.stdout).outcome, 'committed', up.stdout)
  t.equal(result.errors + result.timeouts + result.non2xx, 0, 'no failed request')
  const final = await getJson(sup.port, '/')
  t.ok(final.n >= load.ok() && final.n - load.ok() <= 8, `every acknowledged increment kept (${final.n} vs ${load.ok()})`)
})

t.test('an onPause hook that throws fails the upgrade, not the program', async (t) => {
  const entry = fixture('handler-transaction.js')
  const sup = await runSupervised(entry, ['--version-label', 'a'], { DSU_TEST_BAD_HOOK: '1' })
  t.teardown(() => sup.stop())
  await post(sup.port, '/')
  const up = await dsu(['upgrade', '--to', entry, '--version-label', 'b', '--state-dir', sup.stateDir, '--json'])
  t.equal(up.exitCode, 5)
  t.match(JSON.parse(up.stdout).error, { phase: 'quiesce', message: /onPause hook threw: bad hook/ })
  t.same(await getJson(sup.port, '/'), { n: 1 }, 'the old version serves, unpaused')
  t.equal((await post(sup.port, '/')).body.n, 2, 'and still takes writes')
})
