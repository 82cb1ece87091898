// The new version's init after its state() calls resolved runs inside the
// pause; it is reported as its own phase, `init`, by `dsu upgrade --json` and
// recorded in the journal (`dsu history`, text and JSON).
import t from 'tap'
import { app, dsu, fixture, getJson, post, runSupervised } from './harness.js'

t.test('a new version with post-state() init work: the init phase is reported and recorded', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'), ['--version-label', '1.0.0'])
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')

  const up = await dsu(['upgrade', '--to', fixture('slow-init.js'), '--version-label', 'slow-init', '--state-dir', sup.stateDir, '--json'])
  t.equal(up.exitCode, 0, up.stderr)
  const result = JSON.parse(up.stdout)
  t.equal(result.outcome, 'committed')
  t.same(Object.keys(result.phases), ['spawn', 'quiesce', 'transfer', 'transform', 'init', 'ready', 'commit'], 'phases in order, init among them')
  t.type(result.phases.init, 'number')
  t.match(await getJson(sup.port, '/state'), { version: 'slow-init', counters: { a: 1 } }, 'the new version serves the state')

  const history = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout)
  const [row] = history.upgrades
  t.equal(row.outcome, 'committed')
  t.equal(row.phases.init, result.phases.init, 'history --json has the init phase the upgrade reported')
  t.equal(row.phases.precopy, null, 'no pre-copy ran')

  const text = (await dsu(['history', '--state-dir', sup.stateDir])).stdout
  const [header, line] = text.split('\n')
  t.match(header, /\bINIT\b/)
  const col = header!.indexOf('INIT')
  t.match(line!.slice(col), /^\d+(\.\d+)? (ms|s)\b/, 'the init column holds its duration')
})
