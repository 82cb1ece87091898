// A library object in marked state: an lru-cache LRUCache carried by the
// README's registerType recipe, v1 → v2 under an autocannon write load, with
// its exact contents and recency order (checked by replaying the log of every
// operation into a fresh cache) and no operation lost. Then the refusal when
// the new version has no codec for it.
import t from 'tap'
import { app, dsu, getJson, post, runSupervised, startLoad } from './harness.js'

const CONNECTIONS = 16

t.test('an LRUCache crosses v1 → v2 under load with exact contents and order, 0 lost', async (t) => {
  const sup = await runSupervised(app('lru/v1/server.js'))
  t.teardown(() => sup.stop())
  const load = startLoad(sup.port, { path: '/op', connections: CONNECTIONS, keepBodies: true })
  await load.reach(3000)
  const r = await dsu(['upgrade', '--to', app('lru/v2/server.js'), '--state-dir', sup.stateDir, '--json'])
  t.equal(r.exitCode, 0, r.stdout + r.stderr)
  t.match(JSON.parse(r.stdout), { outcome: 'committed', to: '2.0.0' })
  await load.reach(load.ok() + 3000)
  const result = await load.stop()

  t.equal(result.errors, 0, 'no connection errors')
  t.equal(result.timeouts, 0, 'no timeouts')
  t.equal(result.non2xx, 0, 'no non-2xx responses')
  t.same([...load.versions].sort(), [1, 2], 'served by both versions')
  const verify = await getJson(sup.port, '/verify')
  t.equal(verify.version, 2)
  t.equal(verify.isCache, true, 'the root arrived as an LRUCache')
  t.equal(verify.size, 200, 'full: entries were evicted along the way')
  t.equal(verify.same, true, 'keys, values and recency order equal a replay of every operation')
  const okCount = load.ok()
  t.ok(verify.ops >= okCount && verify.ops - okCount <= CONNECTIONS, `${verify.ops} operations logged for ${okCount} acknowledged (+ at most ${CONNECTIONS} aborted by the stop)`)
  const seqs = new Set(load.bodies.map((b) => (JSON.parse(b) as { seq: number }).seq))
  t.equal(seqs.size, load.bodies.length, 'no sequence number answered twice: no operation lost')
})

t.test('a new version without the codec: DSU_ERR_TYPE_MISSING in pre-flight', async (t) => {
  const sup = await runSupervised(app('lru/v1/server.js'))
  t.teardown(() => sup.stop())
  for (let i = 0; i < 5; i++) await post(sup.port, '/op')
  const before = await getJson(sup.port, '/verify')
  const r = await dsu(['upgrade', '--to', app('lru/v2-nocodec/server.js'), '--state-dir', sup.stateDir, '--json'])
  t.equal(r.exitCode, 5)
  const { error } = JSON.parse(r.stdout)
  t.equal(error.code, 'DSU_ERR_TYPE_MISSING')
  t.equal(error.phase, 'spawn', 'refused while the new version booted, before v1 paused')
  t.match(error.message, /root cache holds values of type "lru", which 2\.0\.0 has no codec for.*registerType\('lru'/)
  t.same(await getJson(sup.port, '/verify'), before, 'state intact')
  t.equal((await post(sup.port, '/op')).body.version, 1, 'v1 still serves')
})
