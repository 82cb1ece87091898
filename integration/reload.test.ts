// Deploy by replacing files, then `kill -HUP` (systemctl reload): dsu run
// upgrades to the code now at its entry, under load, with no failed request.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import autocannon from 'autocannon'
import { app, getJson, root, runSupervised } from './harness.js'

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

  let ok = 0
  const marks: Array<{ n: number; resolve: () => void }> = []
  const after = (n: number): Promise<void> => new Promise((resolve) => marks.push({ n: ok + n, resolve }))
  let finished!: (r: autocannon.Result) => void
  const done = new Promise<autocannon.Result>((resolve) => (finished = resolve))
  const instance = autocannon({
    url: `http://127.0.0.1:${sup.port}`, connections: 20, amount: 2_000_000, duration: 120,
    requests: [{ method: 'POST', path: '/inc/hits', onResponse: (status: number) => {
      if (status !== 200) return
      ok++
      for (const m of marks) if (ok >= m.n) m.resolve()
    } }],
  }, (error: Error | null, result: autocannon.Result) => {
    if (error) throw error
    finished(result)
  })

  await after(2000)
  release(dir, 'v2') // the deploy: new files (and package.json 2.0.0) in place
  sup.process.kill('SIGHUP')
  await sup.waitForOutput(/committed 1\.0\.0 → 2\.0\.0/)
  await after(2000)
  instance.stop()
  const result = await done
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
