// A one-connection Unix socket server for a state stream the supervisor
// receives (checkpoints). Created 0600 inside the 0700 state directory.
import fs from 'node:fs'
import net from 'node:net'

export async function listenOnce(path: string): Promise<{ connection: Promise<net.Socket>; close(): void }> {
  const server = net.createServer()
  const connection = new Promise<net.Socket>((resolve) => server.once('connection', (socket) => {
    server.close()
    resolve(socket)
  }))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  fs.chmodSync(path, 0o600)
  return { connection, close: () => server.close() }
}
