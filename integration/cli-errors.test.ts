// Bad input gets a named error, a message that says what to do, and an exit
// code a pipeline can branch on.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { app, dsu, root, runSupervised } from './harness.js'

const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-empty-'))
t.teardown(() => fs.rmSync(empty, { recursive: true, force: true }))

t.test('unknown command and missing options are usage errors', async (t) => {
  const none = await dsu([])
  t.equal(none.exitCode, 2)
  t.match(none.stderr, 'DSU_ERR_USAGE')
  const bogus = await dsu(['frobnicate'])
  t.equal(bogus.exitCode, 2)
  t.match(bogus.stderr, 'DSU_ERR_USAGE')
  const noTo = await dsu(['upgrade', '--json'])
  t.equal(noTo.exitCode, 2)
  t.equal(JSON.parse(noTo.stdout).error.code, 'DSU_ERR_USAGE')
  const badTimeout = await dsu(['upgrade', '--to', 'x.js', '--timeout', '0'])
  t.equal(badTimeout.exitCode, 2)
  t.match(badTimeout.stderr, /--timeout "0": must be a positive duration/)
  // Per-phase deadlines: the bad part is named, before anything is sent.
  const unknownPhase = await dsu(['upgrade', '--to', 'x.js', '--timeout', 'precopy=120s,warmup=5s', '--json'])
  t.equal(unknownPhase.exitCode, 2)
  t.match(JSON.parse(unknownPhase.stdout).error, { code: 'DSU_ERR_USAGE', message: /--timeout "warmup=5s": unknown phase "warmup"/ })
  const tooLong = await dsu(['run', 'x.js', '--timeout', 'quiesce=30d'])
  t.equal(tooLong.exitCode, 2)
  t.match(tooLong.stderr, /DSU_ERR_USAGE: --timeout "quiesce=30d"/)
  const rollbackZero = await dsu(['rollback', '--timeout', 'init=0ms'])
  t.equal(rollbackZero.exitCode, 2)
  t.match(rollbackZero.stderr, /--timeout "init=0ms": must be a positive duration/)
  // Durations a timer cannot wait (it would fire at once) are refused, not obeyed as 1 ms.
  const every = await dsu(['run', 'x.js', '--checkpoint-every', '600h'])
  t.equal(every.exitCode, 2)
  t.match(every.stderr, /--checkpoint-every must be .* at most 2147483647 ms/)
  const stopTimeout = await dsu(['stop', '--timeout', '1e12'])
  t.equal(stopTimeout.exitCode, 2)
  t.match(stopTimeout.stderr, /--timeout must be at most 2147483647 ms/)
  const twice = await dsu(['status', '--state-dir', 'a', '--state-dir', 'b'])
  t.equal(twice.exitCode, 2)
  t.match(twice.stderr, /--state-dir was given more than once/)
})

t.test('a missing entry is named', async (t) => {
  const r = await dsu(['run', path.join(empty, 'nope.js')])
  t.equal(r.exitCode, 2)
  t.match(r.stderr, 'DSU_ERR_ENTRY_NOT_FOUND')
  t.match(r.stderr, 'nope.js does not exist')
  const dir = await dsu(['run', empty])
  t.equal(dir.exitCode, 2)
  t.match(dir.stderr, /has no entry: looked for index\.js/)
})

t.test('no supervisor: exit 3 with a hint', async (t) => {
  const r = await dsu(['status'], { cwd: empty })
  t.equal(r.exitCode, 3)
  t.match(r.stderr, 'DSU_ERR_NO_SUPERVISOR')
  t.match(r.stderr, 'dsu run')
  const j = await dsu(['upgrade', '--to', app('counter/v2'), '--state-dir', empty, '--json'])
  t.equal(j.exitCode, 3)
  t.equal(JSON.parse(j.stdout).error.code, 'DSU_ERR_NO_SUPERVISOR')
})

t.test('errors against a running supervisor', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())

  const missing = await dsu(['upgrade', '--to', path.join(empty, 'v9.js'), '--state-dir', sup.stateDir])
  t.equal(missing.exitCode, 2, 'a missing new entry is a usage error')
  t.match(missing.stderr, 'DSU_ERR_ENTRY_NOT_FOUND')
  const noTransformer = await dsu(['upgrade', '--to', app('counter/v2'), '--transformer', path.join(empty, 't.js'), '--state-dir', sup.stateDir])
  t.equal(noTransformer.exitCode, 2)
  t.match(noTransformer.stderr, 'DSU_ERR_TRANSFORMER_NOT_FOUND')

  const second = await dsu(['run', app('counter/v1/server.js'), '--state-dir', sup.stateDir])
  t.equal(second.exitCode, 4, 'a second supervisor on the same state dir is refused')
  t.match(second.stderr, 'DSU_ERR_SUPERVISOR_RUNNING')

  // A malformed control message gets a named error and the supervisor lives on.
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(path.join(sup.stateDir, 'control.sock'))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => (text += d))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
    socket.write('{"cmd":"upgrade","entry":42}\n')
  })
  const parsed = JSON.parse(reply.trim())
  t.equal(parsed.type, 'error')
  t.equal(parsed.error.code, 'DSU_ERR_CONTROL_MESSAGE')
  t.match(parsed.error.message, /entry must be a non-empty string/)
  const status = await dsu(['status', '--json', '--state-dir', sup.stateDir])
  t.equal(status.exitCode, 0, 'the supervisor still answers')
  t.equal(JSON.parse(status.stdout).version, '1.0.0')

  const stat = fs.statSync(sup.stateDir)
  t.equal(stat.mode & 0o777, 0o700, 'the state dir is 0700')
  t.equal(fs.statSync(path.join(sup.stateDir, 'control.sock')).mode & 0o777, 0o600, 'the control socket is 0600')
})

t.test('a program that dies on its own makes dsu run exit non-zero', async (t) => {
  const file = path.join(empty, 'dies.js')
  fs.writeFileSync(file, "import 'dsu'\nconsole.error('dies: bye')\nprocess.exit(7)\n")
  // The program imports 'dsu' from outside the repo: point it at the package.
  fs.mkdirSync(path.join(empty, 'node_modules'), { recursive: true })
  fs.symlinkSync(root, path.join(empty, 'node_modules', 'dsu'))
  const r = await dsu(['run', file, '--state-dir', path.join(empty, 'sd')])
  t.equal(r.exitCode, 7, 'exit code of the program')
  t.match(r.stderr, 'DSU_ERR_PROGRAM_EXITED')
})
