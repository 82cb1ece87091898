// Replies on the control socket are not trusted: a socket that does not speak
// dsu's protocol (or a hostile one) gets a named error, never a stack trace,
// and nothing it sends reaches the terminal as an escape sequence.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { dsu } from '../harness.js'

/** A fake supervisor that answers every request with `reply`. */
async function fakeSupervisor(t: { teardown(fn: () => void): void }, reply: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-hostile-'))
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end(reply))
  })
  await new Promise<void>((resolve) => server.listen(path.join(dir, 'control.sock'), resolve))
  t.teardown(() => {
    server.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

t.test('a reply that is not JSON is a named error', async (t) => {
  const dir = await fakeSupervisor(t, 'HTTP/1.1 400 Bad Request\r\n\r\n\n')
  const r = await dsu(['status', '--state-dir', dir])
  t.equal(r.exitCode, 2)
  t.match(r.stderr, /DSU_ERR_CONTROL_MESSAGE: the supervisor at .* sent a reply that is not a dsu control reply/)
  t.notMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace')
  const j = await dsu(['status', '--state-dir', dir, '--json'])
  t.equal(JSON.parse(j.stdout).error.code, 'DSU_ERR_CONTROL_MESSAGE')
})

t.test('JSON of the wrong shape is a named error', async (t) => {
  for (const reply of ['null\n', '[1]\n', '{"type":"error","error":"x"}\n', '{"type":"nope"}\n']) {
    const dir = await fakeSupervisor(t, reply)
    const r = await dsu(['status', '--state-dir', dir])
    t.match(r.stderr, 'DSU_ERR_CONTROL_MESSAGE', reply)
  }
})

t.test('escape sequences in a reply are removed or shown escaped, never interpreted', async (t) => {
  const dir = await fakeSupervisor(t, JSON.stringify({ type: 'error', error: { code: 'DSU_ERR_USAGE', message: '\u001b[2J\u001b]0;owned\u0007cleared\u0008' } }) + '\n')
  const r = await dsu(['status', '--state-dir', dir])
  t.notMatch(r.stderr, '\u001b', 'no raw ESC byte reaches the terminal')
  t.match(r.stderr, 'DSU_ERR_USAGE: cleared\\x08')
})
