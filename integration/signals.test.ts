// dsu run under a service manager: SIGTERM/SIGINT stop the program gracefully;
// a supervisor that dies does not leave its program orphaned.
import { once } from 'node:events'
import t from 'tap'
import { app, dsu, post, runSupervised } from './harness.js'

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

t.test('a supervisor killed with SIGKILL: the program notices and exits', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  const pid = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout).pid as number
  // The program inherited the supervisor's output pipe: the pipe ends only
  // when the program, too, has exited (it stops when its IPC channel closes).
  const ended = once(sup.process.all!, 'end')
  sup.process.kill('SIGKILL')
  await sup.process
  await ended
  t.pass(`the orphaned program ${pid} closed its output and exited`)
})
