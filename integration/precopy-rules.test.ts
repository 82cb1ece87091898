// A DSL transformer's per-entry rules run during pre-copy, in the new
// version, on entries as they arrive — and on the entries changed afterwards,
// at the pause — exactly once each: kv-precopy.js's kv and obj roots (30000
// preloaded entries each, pre-copied by default) go through a doubling rule
// (fixtures/transforms/kv-double.js) while writes keep changing them.
import t from 'tap'
import { Agent, request } from 'undici'
import { dsu, fixture, runSupervised } from './harness.js'

t.test('per-entry rules apply once to every entry, changed or not', async (t) => {
  const sup = await runSupervised(fixture('kv-precopy.js'), ['--version-label', '1.0.0'], { DSU_TEST_PRELOAD: '30000' })
  t.teardown(() => sup.stop())
  const agent = new Agent({ connections: 4 })
  t.teardown(() => agent.close())
  const base = `http://127.0.0.1:${sup.port}`
  const post = async (path: string): Promise<void> => {
    const res = await request(base + path, { method: 'POST', dispatcher: agent })
    await res.body.text()
  }
  const model = new Map<string, number>()
  for (let i = 0; i < 20; i++) {
    await post(`/set/w0k${i}/${i + 1}`)
    model.set(`w0k${i}`, i + 1)
  }
  // Writes keep going during the upgrade: in-place adds through kept references.
  let stop = false
  let n = 0
  const writer = (async () => {
    while (!stop) {
      const k = `w0k${n % 20}`
      await post(`/add/${k}/1`)
      model.set(k, model.get(k)! + 1)
      n++
    }
  })()
  const up = await dsu(['upgrade', '--to', fixture('kv-precopy.js'), '--version-label', '2.0.0', '--transformer', fixture('transforms/kv-double.js'), '--state-dir', sup.stateDir, '--json'])
  stop = true
  await writer
  const result = JSON.parse(up.stdout)
  t.equal(result.outcome, 'committed', up.stderr)
  t.ok('precopy' in result.phases, 'the roots were pre-copied')
  // Writes acknowledged by 2.0.0 after commit apply to doubled values; count only those before.
  const dump = JSON.parse(await (await request(`${base}/dump`, { dispatcher: agent })).body.text())
  t.equal(dump.version, '2.0.0')
  t.ok(n > 0, `writes ran during the upgrade (${n})`)
  for (const root of ['kv', 'obj']) {
    t.equal(Object.keys(dump[root]).length, 20, `${root}: every written key`)
    // Each value is 2 × (its value x at the pause) + the adds a 2.0.0 acknowledged after it, and the
    // model holds x + a: so model + first value ≤ value ≤ 2 × model. Twice doubled (4x + a) or not at all (x + a) falls outside.
    for (const [k, v] of Object.entries(dump[root] as Record<string, number>)) {
      const final = model.get(k)!
      const first = Number(k.slice(3)) + 1
      t.ok(v >= final + first && v <= 2 * final, `${root}.${k}: ${v} is a doubled value plus later adds (model ${final})`)
    }
  }
  t.same(dump.list, Object.fromEntries(model), 'a root without rules is untouched')
})
