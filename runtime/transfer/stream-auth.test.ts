// A state-stream receiver takes only the connection that presents the token.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { acceptAuthenticated, newStreamToken, tokenBytes, TOKEN_BYTES } from './stream-auth.js'

async function receiver(t: { teardown(fn: () => void): void }, token: string): Promise<{ path: string; accepted: Promise<string> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-auth-'))
  const file = path.join(dir, 's.sock')
  const server = net.createServer()
  t.teardown(() => {
    server.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const accepted = new Promise<string>((resolve) => acceptAuthenticated(server, token, (socket) => {
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => (text += d))
    socket.on('end', () => resolve(text))
    socket.resume()
  }))
  await new Promise<void>((resolve) => server.listen(file, resolve))
  return { path: file, accepted }
}

const connectAndSend = (file: string, ...chunks: Buffer[]): Promise<net.Socket> => new Promise((resolve) => {
  const socket = net.connect(file, async () => {
    for (const c of chunks) {
      socket.write(c)
      await new Promise((r) => setImmediate(r))
    }
    resolve(socket)
  })
  socket.on('error', () => {})
})

const closed = (socket: net.Socket): Promise<void> => new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())))

t.test('tokens are fresh and of the expected size', async (t) => {
  const a = newStreamToken()
  t.equal(tokenBytes(a).length, TOKEN_BYTES)
  t.not(a, newStreamToken())
})

t.test('an intruder that connects first is dropped; the real sender is taken, bytes intact', async (t) => {
  const token = newStreamToken()
  const r = await receiver(t, token)
  const intruder = await connectAndSend(r.path, Buffer.from('x'.repeat(TOKEN_BYTES)), Buffer.from('forged state'))
  await closed(intruder)
  // The token split across writes, and data in the same chunk as its end.
  const bytes = tokenBytes(token)
  const real = await connectAndSend(r.path, bytes.subarray(0, 5), Buffer.concat([bytes.subarray(5), Buffer.from('real ')]), Buffer.from('state'))
  real.end()
  t.equal(await r.accepted, 'real state')
})

t.test('a short or silent connection does not block the real sender', async (t) => {
  const token = newStreamToken()
  const r = await receiver(t, token)
  const silent = await connectAndSend(r.path, Buffer.from('abc'))
  const real = await connectAndSend(r.path, tokenBytes(token), Buffer.from('ok'))
  real.end()
  t.equal(await r.accepted, 'ok')
  silent.destroy()
})
