// Deploy by replacing files, then `kill -HUP` (systemctl reload): dsu run
// upgrades to the code now at its entry, under load, with no failed request.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { app, getJson, root, runSupervised, startLoad } from './harness.js'

function release(dir: string, version: 'v1' | 'v2'): void {
  const from = app(`counter/${version}`)
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(dir, f))
}

t.test('SIGHUP upgrades to the code at the entry, under load', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-reload-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  // The release resolves 'dsu' (and zod, for its transformer's schema) from the repo.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'))
  release(dir, 'v1')
  const sup = await runSupervised(dir)
  t.teardown(() => sup.stop())

  const load = startLoad(sup.port, { path: '/inc/hits' })
  await load.reach(2000)
  release(dir, 'v2') // the deploy: new files (and package.json 2.0.0) in place
  sup.process.kill('SIGHUP')
  await sup.waitForOutput(/committed 1\.0\.0 → 2\.0\.0/)
  await load.reach(load.ok() + 2000)
  const result = await load.stop()
  const ok = load.ok()
  t.equal(result.errors, 0, 'no connection errors')
  t.equal(result.timeouts, 0, 'no timeouts')
  t.equal(result.non2xx, 0, 'no non-2xx responses')
  const state = await getJson(sup.port, '/state')
  t.equal(state.version, 2, 'the new code serves')
  t.ok(state.counters.hits >= ok && state.counters.hits - ok <= 20, 'the counter carried over (at most one aborted request per connection)')
})

t.test('SIGHUP while nothing changed still goes through the live path', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  sup.process.kill('SIGHUP')
  await sup.waitForOutput(/committed 1\.0\.0 → 1\.0\.0/)
  t.equal((await getJson(sup.port, '/state')).version, 1)
})
