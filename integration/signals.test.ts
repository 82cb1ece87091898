// dsu run under a service manager: SIGTERM/SIGINT stop the program gracefully;
// a supervisor that dies leaves its program serving, waiting to be re-adopted
// (in depth, under load: faults/supervisor-killed.test.ts).
import { once } from 'node:events'
import t from 'tap'
import { app, dsu, getJson, post, runSupervised } from './harness.js'

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} stops the program, then dsu run exits 0`, async (t) => {
    const sup = await runSupervised(app('counter/v1/server.js'))
    t.teardown(() => sup.stop())
    await post(sup.port, '/inc/a')
    const pid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
    sup.process.kill(signal)
    const result = await sup.process
    t.equal(result.exitCode, 0)
    t.match(sup.output(), /dsu: stopped 1\.0\.0/)
    t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the program is gone')
  })
}

t.test('a supervisor killed with SIGKILL: the program serves on with its state, until it is stopped', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')
  const pid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  sup.process.kill('SIGKILL')
  await sup.waitForOutput(new RegExp(`supervisor is gone; pid ${pid} \\(1\\.0\\.0\\) keeps serving`))
  await post(sup.port, '/inc/a')
  t.same((await getJson(sup.port, '/state')).counters, { a: 2 }, 'served with its state, no supervisor running')
  // The program inherited the supervisor's output pipe: the pipe ends when it exits.
  const ended = once(sup.process.all!, 'end')
  process.kill(pid, 'SIGTERM')
  await ended
  t.pass(`the orphaned program ${pid} exited when told to`)
})
