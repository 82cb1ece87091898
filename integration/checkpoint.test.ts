// Checkpoints: a brief pause, then restore on a cold start, across a version
// change, after a crash; corrupt ones refused; crash loops given up on.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { app, dsu, fixture, getJson, post, runSupervised } from './harness.js'

const dump = async (port: number, method = 'GET'): Promise<string> => (await request(`http://127.0.0.1:${port}/`, { method })).body.text()
const tmpState = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-ckpt-'))

t.test('checkpoint, stop, restore latest: the same state, deep', async (t) => {
  const stateDir = tmpState()
  const first = await runSupervised(fixture('rich-state.js'), [], {}, stateDir)
  await dump(first.port, 'POST')
  await dump(first.port, 'POST')
  const before = await dump(first.port)
  t.match(before, /sameShared: true/)
  const taken = await dsu(['checkpoint', '--json', '--state-dir', stateDir])
  t.equal(taken.exitCode, 0, taken.stderr)
  const meta = JSON.parse(taken.stdout).checkpoint
  t.match(meta, { version: '0.1.0', roots: 2, records: 6 }) // 4 sessions + 2 keys of meta
  t.equal(await dump(first.port), before, 'the program resumed with its state untouched')
  await dump(first.port, 'POST') // after the checkpoint: not in it
  const files = fs.readdirSync(path.join(stateDir, 'checkpoints'))
  for (const f of files) t.equal(fs.statSync(path.join(stateDir, 'checkpoints', f)).mode & 0o777, 0o600, `${f} is 0600`)
  await dsu(['stop', '--state-dir', stateDir])
  await first.process

  const second = await runSupervised(fixture('rich-state.js'), ['--restore', 'latest'], {}, stateDir)
  t.teardown(() => second.stop())
  t.equal(await dump(second.port), before, 'restored state equals the checkpointed state (Map, Set, Date, BigInt, typed array, RegExp, shared reference)')
  await second.waitForOutput(/restored checkpoint/)
  const list = JSON.parse((await dsu(['checkpoint', '--list', '--json', '--state-dir', stateDir])).stdout)
  t.equal(list.checkpoints[0].id, meta.id)
})

t.test('restore across a version change runs the transformer', async (t) => {
  const stateDir = tmpState()
  const v1 = await runSupervised(app('counter/v1/server.js'), [], {}, stateDir)
  await post(v1.port, '/inc/a')
  await post(v1.port, '/inc/a')
  t.equal((await dsu(['checkpoint', '--state-dir', stateDir])).exitCode, 0)
  await dsu(['stop', '--state-dir', stateDir])
  await v1.process
  const v2 = await runSupervised(app('counter/v2/server.js'), ['--restore', 'latest'], {}, stateDir)
  t.teardown(() => v2.stop())
  t.same(await getJson(v2.port, '/state'), { version: 2, counters: { a: 2 } }, 'v1 checkpoint → v2 shape')
  t.equal((await post(v2.port, '/inc/a')).body.value, 3)
})

t.test('a crashed program restarts from the latest checkpoint, on the same socket', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'), ['--restart', 'on-failure', '--restart-delay', '20'])
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')
  await post(sup.port, '/inc/a')
  t.equal((await dsu(['checkpoint', '--state-dir', sup.stateDir])).exitCode, 0)
  const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  process.kill(pid, 'SIGKILL')
  await sup.waitForOutput(/restarted 1\.0\.0 \(pid \d+\) from checkpoint/)
  t.same(await getJson(sup.port, '/state'), { version: 1, counters: { a: 2 } }, 'the checkpointed state, on the same port')
  const history = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  t.not(history.pid, pid, 'a new process serves')
})

t.test('a crash loop is given up on with a clear message', async (t) => {
  const sup = await runSupervised(fixture('crash-soon.js'), ['--restart', 'on-failure', '--restart-delay', '10', '--max-restarts', '2'])
  t.teardown(() => sup.stop())
  const result = await sup.process
  t.equal(result.exitCode, 1)
  t.match(sup.output(), /DSU_ERR_CRASH_LOOP: .*giving up/)
  t.equal(sup.output().match(/restarting 0\.1\.0/g)?.length, 2, 'restarted exactly max-restarts times')
})

t.test('a corrupt checkpoint is refused, never half-loaded', async (t) => {
  const stateDir = tmpState()
  const sup = await runSupervised(app('counter/v1/server.js'), [], {}, stateDir)
  await post(sup.port, '/inc/a')
  t.equal((await dsu(['checkpoint', '--state-dir', stateDir])).exitCode, 0)
  await dsu(['stop', '--state-dir', stateDir])
  await sup.process
  const dir = path.join(stateDir, 'checkpoints')
  const stateFile = fs.readdirSync(dir).find((f) => f.endsWith('.state'))!
  const bytes = fs.readFileSync(path.join(dir, stateFile))
  bytes[bytes.length - 3] ^= 0xff
  fs.writeFileSync(path.join(dir, stateFile), bytes)
  const r = await dsu(['run', app('counter/v1/server.js'), '--state-dir', stateDir, '--restore', stateFile.slice(0, -'.state'.length)])
  t.equal(r.exitCode, 7, 'a checkpoint problem, not a bug')
  t.match(r.stderr, /DSU_ERR_CHECKPOINT_CORRUPT: checkpoint .*sha256/)
  t.notMatch(r.stderr, /listening/, 'the program never started')
  const missing = await dsu(['run', app('counter/v1/server.js'), '--state-dir', stateDir, '--restore', 'nope'])
  t.equal(missing.exitCode, 2)
  t.match(missing.stderr, 'DSU_ERR_CHECKPOINT_NOT_FOUND')
})

t.test('--checkpoint-every takes checkpoints, keeps the newest N, and journals restarts', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'), ['--checkpoint-every', '100ms', '--keep-checkpoints', '2', '--restart', 'on-failure', '--restart-delay', '10'])
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')
  await sup.waitForOutput(/(dsu: checkpoint [^\n]*\n[\s\S]*){3}/)
  const list = JSON.parse((await dsu(['checkpoint', '--list', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(list.checkpoints.length, 2, 'only the newest 2 are kept')
  const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  process.kill(pid, 'SIGKILL')
  await sup.waitForOutput(/restarted 1\.0\.0/)
  // Checkpoints go on every 100 ms: on a slow machine more than the default 20
  // newest events can come after the crash, so ask for all of them.
  const events = JSON.parse((await dsu(['history', '--events', '--limit', '1000', '--json', '--state-dir', sup.stateDir])).stdout).events
  const kinds = events.map((e: { kind: string }) => e.kind)
  t.ok(kinds.includes('checkpoint'), 'checkpoints journaled')
  t.ok(kinds.includes('crash'), 'the crash journaled')
  t.ok(kinds.includes('restart'), 'the restart journaled')
  t.equal(events.find((e: { kind: string }) => e.kind === 'crash').signal, 'SIGKILL')
})
