// Guarantee 2 for background work: transactions, update points and paused
// timers stop before the checkpoint, so no step or tick is lost or repeated.
import t from 'tap'
import { dsu, fixture, runSupervised } from './harness.js'

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
