// A local process that connects to a state-stream socket during an upgrade
// (same user: it can list the state dir) cannot inject a forged state: the
// new version only takes the stream that presents the upgrade's token.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import { app, dsu, getJson, post, runSupervised } from '../harness.js'
import { encodeRoots } from '../../runtime/transfer/state-codec.js'
import { frameHead } from '../../runtime/transfer/framing.js'

t.test('a forged stream is dropped; the upgrade carries the real state', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  for (let i = 0; i < 3; i++) await post(sup.port, '/inc/real')

  const forged = Buffer.concat([...encodeRoots(new Map([['counters', new Map([['forged', 999]])]]))].flatMap((f) => [frameHead(f), f]))
  const attempts: Array<Promise<string>> = []
  const watcher = fs.watch(sup.stateDir, (_event, name) => {
    if (!name?.startsWith('stream-')) return
    attempts.push(new Promise((resolve) => {
      const socket = net.connect(path.join(sup.stateDir, name))
      socket.on('connect', () => socket.write(Buffer.concat([Buffer.alloc(32, 7), forged])))
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`))
      socket.on('close', () => resolve('closed'))
    }))
  })
  t.teardown(() => watcher.close())

  const up = await dsu(['upgrade', '--to', app('counter/v2'), '--state-dir', sup.stateDir, '--json'])
  t.equal(JSON.parse(up.stdout).outcome, 'committed', up.stdout)
  t.ok(attempts.length >= 1, 'the intruder tried')
  for (const outcome of await Promise.all(attempts)) t.match(outcome, /^(closed|error E\w+)$/, 'the intruder was dropped')
  t.same(await getJson(sup.port, '/state'), { version: 2, counters: { real: 3 } }, 'the real state, nothing forged')
  const mode = fs.statSync(sup.stateDir).mode & 0o777
  t.equal(mode, 0o700)
})
