// Class instances in marked state, end to end: the bank app keeps `class
// Account` instances in a Map root and goes v1 → v2 (new method, new field by
// the DSL) → v3 (class renamed, renameClass) → `dsu rollback` to v2, under an
// autocannon write load. No request fails, no acknowledged deposit is lost,
// and after each step every account has the running version's prototype.
// Then each refusal, with its named error, while the old version keeps serving.
import t, { type Test } from 'tap'
import { app, dsu, getJson, post, runSupervised, startLoad, type Supervised } from './harness.js'

const CONNECTIONS = 16

async function upgrade(t: Test, sup: Supervised, args: string[], to: string): Promise<void> {
  const r = await dsu([...args, '--state-dir', sup.stateDir, '--json'])
  t.equal(r.exitCode, 0, `${args.join(' ')}: ${r.stdout} ${r.stderr}`)
  t.match(JSON.parse(r.stdout), { outcome: 'committed', to })
}

for (const precopy of [false, true]) t.test(`bank v1 → v2 → v3 → rollback under load${precopy ? ', pre-copy' : ''}: 0 failed, 0 lost, new prototypes at each step`, async (t) => {
  const sup = await runSupervised(app('bank/v1/server.js'), [], precopy ? { BANK_PRECOPY: '1' } : {})
  t.teardown(() => sup.stop())
  const load = startLoad(sup.port, { path: '/deposit', connections: CONNECTIONS, keepBodies: true })
  const after = (more: number): Promise<void> => load.reach(load.ok() + more)

  await after(2000)
  const first = await dsu(['upgrade', '--to', app('bank/v2/server.js'), '--state-dir', sup.stateDir, '--json'])
  t.equal(first.exitCode, 0, first.stdout + first.stderr)
  const report = JSON.parse(first.stdout)
  t.match(report, { outcome: 'committed', to: '2.0.0' })
  t.equal(report.phases.precopy !== undefined, precopy, precopy ? 'the accounts were pre-copied' : 'stop-and-copy')
  t.same(await getJson(sup.port, '/proto'), { version: 2, ok: true }, 'v2: every account is a v2 Account with audit() and deposits')
  await after(2000)
  await upgrade(t, sup, ['upgrade', '--to', app('bank/v3/server.js')], '3.0.0')
  t.same(await getJson(sup.port, '/proto'), { version: 3, ok: true }, 'v3: every account is a BankAccount with statement()')
  await after(2000)
  await upgrade(t, sup, ['rollback'], '2.0.0')
  t.same(await getJson(sup.port, '/proto'), { version: 2, ok: true }, 'rolled back: every account is a v2 Account again')
  await after(2000)
  const result = await load.stop()

  t.equal(result.errors, 0, 'no connection errors')
  t.equal(result.timeouts, 0, 'no timeouts')
  t.equal(result.non2xx, 0, 'no non-2xx responses')
  t.same([...load.versions].sort(), [1, 2, 3], 'served by v1, v2 and v3')

  const state = await getJson(sup.port, '/state')
  const total = Object.values(state.balances as Record<string, number>).reduce((a, b) => a + b, 0)
  const okCount = load.ok()
  // Stopping the load may abort at most one applied request per connection.
  t.ok(total >= okCount && total - okCount <= CONNECTIONS, `balances sum to ${total} = ${okCount} acknowledged deposits (+ at most ${CONNECTIONS} aborted by the stop)`)
  // A lost deposit would make a later one on the same account report a balance already seen.
  const seen = new Map<string, Set<number>>()
  let repeated = 0
  for (const body of load.bodies) {
    const { id, balance } = JSON.parse(body) as { id: string; balance: number }
    const balances = seen.get(id) ?? new Set()
    if (balances.has(balance)) repeated++
    balances.add(balance)
    seen.set(id, balances)
  }
  t.equal(repeated, 0, 'no account reported the same balance twice: no deposit lost')
  for (const audit of state.audits as Array<{ id: string; balance: number; deposits: number }>) {
    t.equal(audit.deposits, audit.balance, `${audit.id}: the field the DSL added counted every deposit since`)
  }
})

t.test('refusals name their error and leave the old version serving', async (t) => {
  t.test('an unregistered class: DSU_ERR_UNSERIALIZABLE with the path and registerClass', async (t) => {
    const sup = await runSupervised(app('bank/v1/server.js'), [], { BANK_UNREGISTERED: '1' })
    t.teardown(() => sup.stop())
    await post(sup.port, '/deposit')
    const before = await getJson(sup.port, '/state')
    const r = await dsu(['upgrade', '--to', app('bank/v2/server.js'), '--state-dir', sup.stateDir, '--json'])
    t.equal(r.exitCode, 5)
    const { error } = JSON.parse(r.stdout)
    t.equal(error.code, 'DSU_ERR_UNSERIALIZABLE')
    t.match(error.message, 'accounts.get("a0"): class instance Account (register it: registerClass(Account)')
    t.same(await getJson(sup.port, '/state'), before, 'state intact')
    t.equal((await post(sup.port, '/deposit')).body.version, 1, 'v1 still serves')
  })

  t.test('a closure on a registered instance: DSU_ERR_UNSERIALIZABLE with its path', async (t) => {
    const sup = await runSupervised(app('bank/v1/server.js'))
    t.teardown(() => sup.stop())
    await post(sup.port, '/listener/on')
    const r = await dsu(['upgrade', '--to', app('bank/v2/server.js'), '--state-dir', sup.stateDir, '--json'])
    t.equal(r.exitCode, 5)
    t.match(JSON.parse(r.stdout).error, { code: 'DSU_ERR_UNSERIALIZABLE', message: /accounts\.get\("a0"\)\.onChange: function/ })
    await post(sup.port, '/listener/off')
    await upgrade(t, sup, ['upgrade', '--to', app('bank/v2/server.js')], '2.0.0')
    t.same(await getJson(sup.port, '/proto'), { version: 2, ok: true }, 'without the closure the same upgrade goes through')
  })

  t.test('a class the new version renamed without renameClass: DSU_ERR_CLASS_MISSING in pre-flight', async (t) => {
    const sup = await runSupervised(app('bank/v1/server.js'))
    t.teardown(() => sup.stop())
    await post(sup.port, '/deposit')
    const before = await getJson(sup.port, '/state')
    const status = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
    t.same(status.roots, [{ name: 'accounts', kind: 'map', count: 10, classes: ['Account'] }], 'the manifest lists the classes a root holds')
    const r = await dsu(['upgrade', '--to', app('bank/v2-renamed/server.js'), '--state-dir', sup.stateDir, '--json'])
    t.equal(r.exitCode, 5)
    const { error } = JSON.parse(r.stdout)
    t.equal(error.code, 'DSU_ERR_CLASS_MISSING')
    t.equal(error.phase, 'spawn', 'refused while the new version booted, before v1 paused')
    t.match(error.message, /root accounts holds instances of class Account, which 2\.0\.0 does not register \(it registers: BankAccount\).*renameClass\('Account'/)
    t.same(await getJson(sup.port, '/state'), before, 'state intact')
    t.equal((await post(sup.port, '/deposit')).body.version, 1, 'v1 still serves')
  })
})
