// A library object carried by the dehydrate pattern (copied into a marked root
// by onQuiesced, loaded back at init) loses no acknowledged write across
// upgrades under a write load: the hook runs after in-flight requests end.
import t from 'tap'
import { dsu, fixture, getJson, runSupervised, startLoad } from './harness.js'

t.test('an LRUCache dumped in onQuiesced keeps every acknowledged write across two upgrades', async (t) => {
  const entry = fixture('lru-dehydrate.js')
  const sup = await runSupervised(entry)
  t.teardown(() => sup.stop())
  const load = startLoad(sup.port, { path: '/inc/k', connections: 8 })
  await load.reach(1000)
  for (let i = 0; i < 2; i++) {
    const up = await dsu(['upgrade', '--to', entry, '--json', '--state-dir', sup.stateDir])
    t.equal(JSON.parse(up.stdout).outcome, 'committed', up.stdout)
    await load.reach(load.ok() + 1000)
  }
  const result = await load.stop()
  t.equal(result.errors + result.timeouts + result.non2xx, 0, 'no failed request')
  const count = (await getJson(sup.port, '/state')).counts.k as number
  t.ok(count >= load.ok(), `every acknowledged write is in the cache (${count} ≥ ${load.ok()})`)
  t.ok(count - load.ok() <= 8, 'at most one unacknowledged request per connection when the load stopped')
})
