// kill -9 of the supervisor (issue 11, item 8). The program keeps serving,
// with its state, while no supervisor runs; `dsu run --restore` beside it is
// refused (it would start a second copy); a plain `dsu run` on the same state
// dir re-adopts it and moves it into a fresh process of its own; nothing is
// lost and the next upgrade works; after it, a second kill -9 leaves the new
// version (started by that upgrade) serving, and it is re-adopted the same
// way. Writes come from a keep-alive load the whole
// time, and every acknowledged write must be in the final state.
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { execa } from 'execa'
import { app, cli, dsu, fileExists, fixture, getJson, post, runSupervised, startLoad, watchOutput, gates } from '../harness.js'

function killIfLeft(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone, as it should be
  }
}

/** A `dsu run` on an existing state dir, its output collected (the harness's waits for a first start). */
function runAgain(args: string[]): { process: ReturnType<typeof execa>; waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>; output(): string } {
  const child = execa(process.execPath, [cli, 'run', ...args], { reject: false, stdin: 'ignore', all: true, buffer: false })
  return { process: child, ...watchOutput(child, 'dsu run') }
}

t.test('kill -9 of the supervisor under write load: served while orphaned, re-adopted by the next dsu run, nothing lost', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  const entry = app('counter/v1/server.js')
  t.teardown(async () => {
    await dsu(['stop', '--state-dir', sup.stateDir])
    fs.rmSync(sup.stateDir, { recursive: true, force: true })
  })
  const load = startLoad(sup.port, { path: '/inc/k', connections: 10, keepBodies: true })
  await load.reach(300)
  const orphanPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  t.teardown(() => killIfLeft(orphanPid)) // a failed assertion must not leave it serving

  process.kill(sup.process.pid!, 'SIGKILL')
  // The program says so on the stdout it shares with the dead supervisor.
  await sup.waitForOutput(new RegExp(`supervisor is gone; pid ${orphanPid} \\(1\\.0\\.0\\) keeps serving`))
  const atOrphan = load.ok()
  await load.reach(atOrphan + 500) // served with no supervisor
  const noSupervisor = await dsu(['status', '--state-dir', sup.stateDir])
  t.equal(noSupervisor.exitCode, 3, 'no supervisor answers meanwhile')
  t.match(noSupervisor.stderr, /DSU_ERR_NO_SUPERVISOR: .*its supervisor died, and the program it ran may still serve and wait to be re-adopted at \S+adopt\.sock: start `dsu run <entry> --state-dir \S+` \(no --restore\)/, 'and says how to re-adopt it')

  // --restore would start a second copy beside it: refused, the orphan untouched.
  const second = await execa(process.execPath, [cli, 'run', entry, '--state-dir', sup.stateDir, '--restore', 'latest'], { reject: false, stdin: 'ignore' })
  t.equal(second.exitCode, 4, String(second.stderr))
  t.match(String(second.stderr), /DSU_ERR_ADOPT_FAILED: .*--restore would start a second copy beside it: run dsu run without --restore to re-adopt it/)
  const beforeAdopt = load.ok()
  await load.reach(beforeAdopt + 200) // still serving: the refused run took nothing

  const next = runAgain([entry, '--state-dir', sup.stateDir])
  await next.waitForOutput(new RegExp(`re-adopted 1\\.0\\.0 \\(pid ${orphanPid}\\) left running by a supervisor that died, with 1 listening socket`))
  const committed = await next.waitForOutput(/dsu: committed 1\.0\.0 → 1\.0\.0 \(pid (\d+)\)/)
  const freshPid = Number(committed[1])
  const afterAdopt = load.ok()
  await load.reach(afterAdopt + 300) // served by the fresh process

  const status = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  t.equal(status.pid, freshPid, 'the fresh process, a child of the new supervisor, serves')
  t.not(status.pid, orphanPid)
  t.same(status.listeners, ['tcp:127.0.0.1:0#1'], 'the same listening socket')

  // An upgrade works afterwards, under the same load.
  const up = await dsu(['upgrade', '--to', app('counter/v2'), '--json', '--state-dir', sup.stateDir])
  t.equal(up.exitCode, 0, up.stdout)
  const afterUpgrade = load.ok()
  await load.reach(afterUpgrade + 200)

  // Again, with the version an upgrade started (a successor) serving.
  const v2Pid = JSON.parse(up.stdout).pid as number
  process.kill(next.process.pid!, 'SIGKILL')
  await next.waitForOutput(new RegExp(`supervisor is gone; pid ${v2Pid} \\(2\\.0\\.0\\) keeps serving`))
  await load.reach(load.ok() + 300)
  const third = runAgain([app('counter/v2'), '--state-dir', sup.stateDir])
  await third.waitForOutput(new RegExp(`re-adopted 2\\.0\\.0 \\(pid ${v2Pid}\\)`))
  await third.waitForOutput(/dsu: committed 2\.0\.0 → 2\.0\.0/)
  await load.reach(load.ok() + 200)

  const result = await load.stop()
  t.equal(result.errors, 0, 'no connection error, reset or timeout at any point')
  t.equal(result.non2xx, 0, 'no failed request')
  const state = await getJson(sup.port, '/state')
  t.equal(state.version, 2)
  const kept = state.counters.k as number
  t.ok(kept >= load.ok() && kept - load.ok() <= 10, `every acknowledged write is in the state (${kept} vs ${load.ok()} acknowledged, + at most 10 cut off by the load's stop)`)
  // A lost write would make a later one report a value already seen.
  const values = load.bodies.map((b) => (JSON.parse(b) as { value: number }).value)
  t.equal(new Set(values).size, values.length, '0 lost writes: no value acknowledged twice')

  const { events } = JSON.parse((await dsu(['history', '--events', '--json', '--state-dir', sup.stateDir])).stdout)
  t.ok(events.some((e: { kind: string; detail: string | null }) => e.kind === 'start' && e.detail === JSON.stringify({ adopted: orphanPid })), 'the journal has the re-adoption')
  const { upgrades } = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout)
  t.same(upgrades.slice(0, 3).map((u: { outcome: string; from: string; to: string }) => [u.outcome, u.from, u.to]),
    [['committed', '2.0.0', '2.0.0'], ['committed', '1.0.0', '2.0.0'], ['committed', '1.0.0', '1.0.0']], 'each move into a fresh process and the upgrade, journalled')
})

/** Exited: no such process, or a zombie its new parent has not reaped yet. */
function gone(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

for (const [gated, phase] of [['gated-boot.js', 'spawn'], ['gated-init.js', 'init']] as const) {
  t.test(`kill -9 of the supervisor mid-upgrade, in phase ${phase}: the old version ${phase === 'init' ? 'resumes from its pause and ' : ''}serves orphaned, the new one stops; re-adopted later`, async (t) => {
    const { gate, mark, env } = gates(t)
    const sup = await runSupervised(app('counter/v1/server.js'), ['--timeout', '120s'], env)
    t.teardown(async () => {
      await dsu(['stop', '--state-dir', sup.stateDir])
      fs.rmSync(sup.stateDir, { recursive: true, force: true })
    })
    const load = startLoad(sup.port, { path: '/inc/m', connections: 5, keepBodies: true })
    await load.reach(100)
    const orphanPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  t.teardown(() => killIfLeft(orphanPid)) // a failed assertion must not leave it serving
    const upgrade = execa(process.execPath, [cli, 'upgrade', '--to', fixture(gated), '--json', '--state-dir', sup.stateDir], { reject: false })
    await fileExists(mark) // the new version boots (spawn), or runs its init with the state (init: the old one is paused)
    const newPid = Number(fs.readFileSync(mark, 'utf8'))
    process.kill(sup.process.pid!, 'SIGKILL')
    await sup.waitForOutput(new RegExp(`supervisor is gone; pid ${orphanPid} `))
    const r = await upgrade
    t.not(r.exitCode, 0, 'the upgrade did not commit')
    await load.reach(load.ok() + 200) // served by the old version, with no supervisor

    const next = runAgain([app('counter/v1/server.js'), '--state-dir', sup.stateDir])
    await next.waitForOutput(/dsu: committed 1\.0\.0 → 1\.0\.0/)
    t.match(next.output(), new RegExp(`re-adopted 1\\.0\\.0 \\(pid ${orphanPid}\\)`), 'the old version was the one re-adopted')
    t.ok(gone(newPid), `the new version (pid ${newPid}) stopped`)
    await load.reach(load.ok() + 100)
    const result = await load.stop()
    t.equal(result.errors, 0)
    t.equal(result.non2xx, 0)
    const kept = (await getJson(sup.port, '/state')).counters.m as number
    t.ok(kept >= load.ok() && kept - load.ok() <= 5, `every acknowledged write is in the state (${kept} vs ${load.ok()})`)
    const values = load.bodies.map((b) => (JSON.parse(b) as { value: number }).value)
    t.equal(new Set(values).size, values.length, '0 lost writes')
    fs.writeFileSync(gate, '')
  })
}

t.test('the supervisor and then its orphan killed: the stale adopt socket is cleared, --restore latest starts from the checkpoint', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  const entry = app('counter/v1/server.js')
  t.teardown(async () => {
    await dsu(['stop', '--state-dir', sup.stateDir])
    fs.rmSync(sup.stateDir, { recursive: true, force: true })
  })
  for (let i = 0; i < 3; i++) await post(sup.port, '/inc/z')
  t.equal((await dsu(['checkpoint', '--json', '--state-dir', sup.stateDir])).exitCode, 0)
  const orphanPid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  t.teardown(() => killIfLeft(orphanPid)) // a failed assertion must not leave it serving
  const ended = once(sup.process.all!, 'end') // the output pipe ends when the orphan, too, is gone
  process.kill(sup.process.pid!, 'SIGKILL')
  await sup.waitForOutput(new RegExp(`supervisor is gone; pid ${orphanPid} `))
  process.kill(orphanPid, 'SIGKILL')
  await ended
  t.ok(fs.existsSync(path.join(sup.stateDir, 'adopt.sock')), 'its adopt socket is left behind')

  const next = runAgain([entry, '--state-dir', sup.stateDir, '--restore', 'latest'])
  const m = await next.waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)/)
  t.notMatch(next.output(), /re-adopted|DSU_ERR_ADOPT_FAILED/, 'nothing to adopt: a stale socket is no program')
  t.notOk(fs.existsSync(path.join(sup.stateDir, 'adopt.sock')), 'the stale socket is removed')
  t.same((await getJson(Number(m[1]), '/state')).counters, { z: 3 }, 'restored from the checkpoint')
})
