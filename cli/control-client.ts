// The CLI's end of the control socket, and how it finds the socket.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { DsuError, fromWire } from '../runtime/errors.js'
import type { ControlReply, ControlRequest } from '../runtime/supervisor/control-protocol.js'
import { CONTROL_SOCKET, controlSocketPath } from '../runtime/supervisor/state-dir.js'

/**
 * --state-dir, else $DSU_STATE_DIR, else the nearest .dsu/ holding `marker`
 * (the control socket of a running supervisor, by default) above each start dir.
 */
export function findStateDir(explicit: string | undefined, startDirs: string[], marker = CONTROL_SOCKET): string {
  const given = explicit ?? process.env.DSU_STATE_DIR
  if (given) {
    const dir = path.resolve(given)
    if (marker !== CONTROL_SOCKET) return dir
    if (!fs.existsSync(controlSocketPath(dir))) {
      throw new DsuError('DSU_ERR_NO_SUPERVISOR', `no supervisor is running with state dir ${dir} (no ${controlSocketPath(dir)})`)
    }
    return dir
  }
  const looked: string[] = []
  for (const start of startDirs) {
    let dir = path.resolve(start)
    for (;;) {
      const candidate = path.join(dir, '.dsu')
      if (fs.existsSync(path.join(candidate, marker))) return candidate
      looked.push(candidate)
      const parent = path.dirname(dir)
      if (parent === dir) break
      dir = parent
    }
  }
  if (marker !== CONTROL_SOCKET) {
    throw new DsuError('DSU_ERR_NO_SUPERVISOR', `no state directory found (looked for .dsu/${marker} from ${startDirs.map((d) => path.resolve(d)).join(', ')} upwards); pass --state-dir`)
  }
  throw new DsuError('DSU_ERR_NO_SUPERVISOR', `no running supervisor found (looked for .dsu/control.sock from ${startDirs.map((d) => path.resolve(d)).join(', ')} upwards)`)
}

/** Sends one request; calls onEvent for each event line; resolves with the result. */
export function request(stateDir: string, message: ControlRequest, onEvent: (event: unknown) => void = () => {}): Promise<unknown> {
  const file = controlSocketPath(stateDir)
  return new Promise((resolve, reject) => {
    const socket = net.connect(file)
    let buffer = ''
    let settled = false
    const settle = (fn: () => void): void => {
      if (settled) return
      settled = true
      fn()
    }
    socket.setEncoding('utf8')
    socket.once('connect', () => socket.write(JSON.stringify(message) + '\n'))
    socket.on('data', (chunk: string) => {
      buffer += chunk
      let nl: number
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const reply = JSON.parse(buffer.slice(0, nl)) as ControlReply
        buffer = buffer.slice(nl + 1)
        if (reply.type === 'event') onEvent(reply.event)
        else if (reply.type === 'result') settle(() => resolve(reply.result))
        else settle(() => reject(fromWire(reply.error)))
      }
    })
    socket.once('error', (cause) => settle(() => reject(new DsuError('DSU_ERR_NO_SUPERVISOR',
      `cannot reach the supervisor at ${file}: ${cause.message}`, { cause }))))
    socket.once('close', () => settle(() => reject(new DsuError('DSU_ERR_NO_SUPERVISOR',
      `the supervisor at ${file} closed the connection without an answer`))))
  })
}
