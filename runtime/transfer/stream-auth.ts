// State streams are authenticated. Their Unix sockets sit in the 0700 state
// dir, but any process of the same user can list it and connect first, so a
// receiver would otherwise take a forged state from whoever came first. Each
// stream gets a fresh random token over the IPC channel (which only the two
// processes share); the sender writes it before any frame, and the receiver
// drops every connection that does not start with it, and keeps listening
// for the real sender. Tokens are compared in constant time.
import crypto from 'node:crypto'
import type net from 'node:net'

export const TOKEN_BYTES = 32
/** How long a connection may take to present its token before it is dropped. */
const TOKEN_DEADLINE_MS = 5000

export function newStreamToken(): string {
  return crypto.randomBytes(TOKEN_BYTES).toString('hex')
}

/** The bytes a sender writes first. */
export function tokenBytes(token: string): Buffer {
  return Buffer.from(token, 'hex')
}

/**
 * Calls `onSocket` with the first connection to `server` that presents
 * `token`, then stops listening; other connections are destroyed. The socket
 * comes paused, with the token consumed and any bytes after it put back:
 * the consumer calls `resume()` once its readers are attached, so no byte
 * flows before someone listens.
 */
export function acceptAuthenticated(server: net.Server, token: string, onSocket: (socket: net.Socket) => void): void {
  const expected = tokenBytes(token)
  let accepted = false
  server.on('connection', (socket) => {
    if (accepted) return void socket.destroy()
    let head = Buffer.alloc(0)
    const drop = (): void => {
      socket.off('data', onData)
      socket.destroy()
    }
    const timer = setTimeout(drop, TOKEN_DEADLINE_MS)
    timer.unref()
    socket.on('error', () => {}) // an intruder's reset is not our failure
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      if (head.length < expected.length) return
      socket.off('data', onData)
      clearTimeout(timer)
      if (accepted || !crypto.timingSafeEqual(head.subarray(0, expected.length), expected)) return void socket.destroy()
      accepted = true
      server.close()
      socket.pause()
      const rest = head.subarray(expected.length)
      if (rest.length > 0) socket.unshift(rest)
      onSocket(socket)
    }
    socket.on('data', onData)
  })
}
