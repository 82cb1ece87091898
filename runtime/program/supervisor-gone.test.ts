// A program notices its supervisor's death even while a handle it sent still
// awaits the supervisor's acknowledgement: Node then never emits 'disconnect'
// (channel.ts, watchEnd). Three real processes: this test, a stand-in
// supervisor (stopped with SIGSTOP so it cannot acknowledge, then killed),
// and the program, which sends a listening socket's handle in between.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const channel = fileURLToPath(new URL('./channel.js', import.meta.url))

t.test('the supervisor dies while a handle awaits its acknowledgement: onSupervisorGone still fires', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-gone-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const program = path.join(dir, 'program.mjs')
  fs.writeFileSync(program, `
    import net from 'node:net'
    import { onSupervisorGone, send } from ${JSON.stringify(channel)}
    onSupervisorGone(() => { console.log('gone'); process.exit(0) })
    process.on('SIGUSR2', () => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        void send({ dsu: 'listener', key: 'k', address: 'a' }, server._handle)
        // Queued behind the handle's acknowledgement, which never comes.
        void send({ dsu: 'booted' })
        console.log('sent', process._handleQueue ? 'queued' : 'not-queued')
      })
    })
    console.log('ready', process.pid)
    setInterval(() => {}, 1000)
  `)
  const supervisor = path.join(dir, 'supervisor.mjs')
  fs.writeFileSync(supervisor, `
    import { fork } from 'node:child_process'
    fork(${JSON.stringify(program)}, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    process.on('message', () => {})
  `)
  const sup = spawn(process.execPath, [supervisor], { stdio: ['ignore', 'pipe', 'inherit'] })
  let programPid = 0
  t.teardown(() => {
    try { process.kill(programPid, 'SIGKILL') } catch { /* exited, as it should */ }
    try { sup.kill('SIGKILL') } catch { /* killed by the test */ }
  })
  const lines = readline.createInterface({ input: sup.stdout! })[Symbol.asyncIterator]()
  const next = async (): Promise<string> => String((await lines.next()).value)

  const ready = await next()
  t.match(ready, /^ready \d+$/)
  programPid = Number(ready.split(' ')[1])
  process.kill(sup.pid!, 'SIGSTOP') // it reads nothing, so it acknowledges nothing
  process.kill(programPid, 'SIGUSR2')
  t.equal(await next(), 'sent queued', 'the handle was written and awaits its acknowledgement')
  process.kill(sup.pid!, 'SIGKILL')
  t.equal(await next(), 'gone', 'the program saw its supervisor go')
})
