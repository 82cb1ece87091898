// The control socket survives idle and piled-up connections.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { openControlSocket } from './control-server.js'

async function open(t: { teardown(fn: () => void): void }, limits: { requestTimeoutMs: number; maxConnections: number }): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-ctl-'))
  const file = path.join(dir, 'control.sock')
  const server = await openControlSocket(file, async (request) => ({ echo: request.cmd }), limits)
  t.teardown(() => {
    server.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return file
}

const connect = (file: string): Promise<net.Socket> => new Promise((resolve, reject) => {
  const s = net.connect(file, () => resolve(s))
  s.on('error', reject)
})
const closed = (s: net.Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))
const ask = async (file: string): Promise<string> => {
  const s = await connect(file)
  let text = ''
  s.setEncoding('utf8')
  s.on('data', (d: string) => (text += d))
  s.write(JSON.stringify({ cmd: 'status' }) + '\n')
  await closed(s)
  return text
}

t.test('a connection that sends no request is closed after the request timeout', async (t) => {
  const file = await open(t, { requestTimeoutMs: 50, maxConnections: 8 })
  const silent = await connect(file)
  await closed(silent)
  t.pass('closed by the supervisor')
  t.match(await ask(file), /"echo":"status"/, 'still answers')
})

t.test('connections beyond the cap are closed on arrival; the supervisor keeps answering', async (t) => {
  const file = await open(t, { requestTimeoutMs: 60_000, maxConnections: 2 })
  const held = [await connect(file), await connect(file)]
  const third = await connect(file)
  await closed(third)
  t.pass('the third connection was closed')
  held[0]!.destroy()
  await closed(held[0]!)
  // The slot frees once the server has seen the close: retry until it answers.
  let answer = ''
  while (!answer) answer = await ask(file).catch(() => '')
  t.match(answer, /"echo":"status"/)
  held[1]!.destroy()
})
