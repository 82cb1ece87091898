// Unit tests' state streams: a connected pair of Unix sockets in a temporary
// directory, the way the state stream runs between two versions. Not a test
// itself (no .test.js), and not shipped (package.json excludes *.test.*).
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export async function socketPair(prefix = 'dsu-pair-'): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const file = path.join(dir, 's.sock')
  const listener = net.createServer()
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve))
  await new Promise<void>((resolve) => listener.listen(file, resolve))
  const client = net.connect(file)
  await new Promise((resolve) => client.once('connect', resolve))
  return { client, server: await accepted, close: () => { listener.close(); fs.rmSync(dir, { recursive: true, force: true }) } }
}
