// A one-connection Unix socket server for a state stream the supervisor
// receives (checkpoints). Created 0600 inside the 0700 state directory; the
// connection must present the stream's token (transfer/stream-auth.ts).
import fs from 'node:fs'
import net from 'node:net'
import { acceptAuthenticated } from '../transfer/stream-auth.js'

export async function listenOnce(path: string, token: string): Promise<{ connection: Promise<net.Socket>; close(): void }> {
  const server = net.createServer()
  const connection = new Promise<net.Socket>((resolve) => acceptAuthenticated(server, token, resolve))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  fs.chmodSync(path, 0o600)
  return { connection, close: () => server.close() }
}
