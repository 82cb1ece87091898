// The supervisor's control socket (Unix, 0600): `dsu upgrade/status/stop`
// connect here. One request per connection; replies are JSON lines.
import fs from 'node:fs'
import net from 'node:net'
import { DsuError, toWire } from '../errors.js'
import { parseRequest, type ControlReply, type ControlRequest } from './control-protocol.js'

export type ControlHandler = (request: ControlRequest, emit: (event: unknown) => void) => Promise<unknown>

export interface ControlLimits {
  /** A connection that has not sent its request line by then is closed, ms. */
  requestTimeoutMs: number
  /** Connections at once; more are closed on arrival. */
  maxConnections: number
}

/**
 * Idle or piled-up connections (a stuck client, a local process holding
 * sockets open) must not exhaust the supervisor's fds or memory; a real `dsu`
 * command sends its request line at once, then may wait long for the result.
 */
export const CONTROL_LIMITS: ControlLimits = { requestTimeoutMs: 10_000, maxConnections: 64 }

export async function openControlSocket(file: string, handler: ControlHandler, limits: ControlLimits = CONTROL_LIMITS): Promise<net.Server> {
  await claimPath(file)
  const server = net.createServer((socket) => {
    let buffer = ''
    socket.setEncoding('utf8')
    socket.on('error', () => {}) // a client that went away must not hurt the supervisor
    const idle = setTimeout(() => socket.destroy(), limits.requestTimeoutMs)
    idle.unref()
    socket.once('close', () => clearTimeout(idle))
    socket.on('data', (chunk: string) => {
      buffer += chunk
      const nl = buffer.indexOf('\n')
      if (nl === -1) {
        if (buffer.length > 64 * 1024) {
          // Refused once; the rest is read and dropped (until the client ends,
          // or the idle deadline), so the client reads the refusal rather than
          // a broken pipe.
          socket.removeAllListeners('data')
          socket.on('data', () => {})
          buffer = ''
          reply(socket, { type: 'error', error: toWire(new DsuError('DSU_ERR_CONTROL_MESSAGE', 'control request longer than 64 KiB')) }, true)
        }
        return
      }
      socket.removeAllListeners('data')
      clearTimeout(idle)
      const line = buffer.slice(0, nl)
      let request: ControlRequest
      try {
        request = parseRequest(line)
      } catch (error) {
        return reply(socket, { type: 'error', error: toWire(error) }, true)
      }
      handler(request, (event) => reply(socket, { type: 'event', event })).then(
        (result) => reply(socket, { type: 'result', result }, true),
        (error) => reply(socket, { type: 'error', error: toWire(error) }, true),
      )
    })
  })
  server.maxConnections = limits.maxConnections
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const mask = process.umask(0o177) // the socket file is created 0600
    try {
      server.listen(file, () => resolve())
    } finally {
      process.umask(mask)
    }
  })
  fs.chmodSync(file, 0o600)
  return server
}

function reply(socket: net.Socket, message: ControlReply, end = false): void {
  if (socket.destroyed) return
  const line = JSON.stringify(message) + '\n'
  if (end) socket.end(line)
  else socket.write(line)
}

/** Refuses a path a live supervisor owns; removes a stale socket file. */
async function claimPath(file: string): Promise<void> {
  if (!fs.existsSync(file)) return
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(file)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
  if (alive) {
    throw new DsuError('DSU_ERR_SUPERVISOR_RUNNING', `a supervisor already listens on ${file}`)
  }
  fs.unlinkSync(file)
}
