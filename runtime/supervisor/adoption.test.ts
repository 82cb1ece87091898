// Finding a program to re-adopt: only a live Unix socket counts; a stale one
// (its program died too) is removed, anything else is left alone.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { connectOrphan } from './adoption.js'

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-adopt-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('no socket, or a file that is not one: nothing to adopt, and the file is left alone', async (t) => {
  const dir = tempDir(t)
  t.equal(await connectOrphan(path.join(dir, 'adopt.sock')), null)
  const file = path.join(dir, 'adopt.sock')
  fs.writeFileSync(file, 'not a socket')
  t.equal(await connectOrphan(file), null)
  t.equal(fs.readFileSync(file, 'utf8'), 'not a socket', 'kept')
})

t.test('a live socket: a connection that nothing reads (the channel will)', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'adopt.sock')
  const server = net.createServer({ pauseOnConnect: true }, (socket) => socket.end())
  await new Promise<void>((resolve) => server.listen(file, resolve))
  t.teardown(() => void server.close())
  const socket = await connectOrphan(file)
  t.ok(socket, 'connected')
  t.ok(socket!.isPaused(), 'paused: it must not start reading the fd')
  socket!.destroy()
})

t.test('a stale socket whose program died: nothing to adopt, and the file is removed', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'adopt.sock')
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(file)}, () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await once(child.stdout!, 'data')
  child.kill('SIGKILL')
  await once(child, 'exit')
  t.ok(fs.existsSync(file), 'left behind by the killed process')
  t.equal(await connectOrphan(file), null)
  t.notOk(fs.existsSync(file), 'removed')
})
