// A program whose supervisor died (kill -9, OOM, a crash of dsu itself) keeps
// serving with its state and waits for the next `dsu run` on the same state
// dir to re-adopt it (supervisor/adoption.ts).
//
// Node passes sockets only over an IPC channel, and makes one only between a
// parent and the child it forks. Between two unrelated processes it is made
// here from a plain Unix socket: the program accepts one connection on
// <state-dir>/adopt.sock, paused so nothing reads it, and turns it into its
// IPC channel with child_process._forkChild(fd) — what Node runs at the start
// of every forked child for NODE_CHANNEL_FD. The new supervisor does the same
// on its end, so process.send() and 'message' work again, handles included.
import cp from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import { ENV_ADOPT_SOCKET, ENV_VERSION } from '../protocol.js'
import { send } from './channel.js'
import { listenInternal, servers } from './listeners.js'

let waiting: net.Server | null = null
/**
 * The sockets whose fds became channels: never closed or collected here (that
 * would close the channel's fd); the channel closes the fd itself.
 */
const adopted: net.Socket[] = []

/**
 * Starts waiting on the adopt socket; false when this program was not told
 * where (an older supervisor), or the socket cannot be made.
 */
export function awaitAdoption(log: (line: string) => void = warn): boolean {
  const file = process.env[ENV_ADOPT_SOCKET]
  if (!file || typeof forkChild() !== 'function') return false
  // A supervisor that adopted it died too, or a connection closed before it
  // became one (a refused `dsu run --restore` probes): still waiting.
  if (waiting) return true
  // stdout/stderr may be pipes to the dead supervisor: a write to them must
  // not become an uncaught EPIPE that kills the service.
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') === 0) stream.on('error', () => {})
  }
  // Open for the rest of the program's life: should the connection close
  // before or after it became a channel, the next `dsu run` finds it here.
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    // One supervisor at a time.
    if (process.connected) return void socket.destroy()
    adopt(socket)
  })
  server.on('error', (error) => log(`dsu: cannot wait for re-adoption on ${file}: ${error.message}`))
  removeQuietly(file) // a socket left by an earlier orphan of this state dir
  const mask = process.umask(0o177) // 0600, in the 0700 state dir
  try {
    listenInternal(server, file) // not the program's: not intercepted, not handed over
  } catch (error) {
    log(`dsu: cannot wait for re-adoption on ${file}: ${(error as Error).message}`)
    return false
  } finally {
    process.umask(mask)
  }
  server.unref() // the program's own servers keep it alive, or it ends as it would have
  waiting = server
  log(`dsu: the supervisor is gone; pid ${process.pid} (${process.env[ENV_VERSION] ?? ''}) keeps serving with its state and waits for \`dsu run\` to re-adopt it (${file})`)
  return true
}


function adopt(socket: net.Socket): void {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) return void socket.destroy()
  socket.unref()
  adopted.push(socket)
  // The dead channel's handler would also see the new channel's handle ACKs
  // (and assert on them): only the new channel's may listen.
  process.removeAllListeners('internalMessage')
  try {
    forkChild()!(fd, 'json')
  } catch (error) {
    warn(`dsu: cannot take ${socket.remoteAddress ?? 'the adopt socket'} as a channel: ${(error as Error).message}`)
    return
  }
  // The listening sockets first, as at a first start, then hello: the
  // supervisor has them all once hello arrives (the channel keeps the order).
  for (const [key, connections] of servers) {
    const server = connections.server as unknown as net.Server & { _handle?: unknown }
    if (!server.listening || !server._handle) continue
    const address = server.address()
    const text = typeof address === 'string' ? address : address ? `${address.address}:${address.port}` : ''
    void send({ dsu: 'listener', key, address: text }, server._handle)
  }
  void send({ dsu: 'hello', role: 'primary', version: process.env[ENV_VERSION] ?? '', pid: process.pid, entry: process.argv[1], adopted: true, acks: true })
}

/** Node's own NODE_CHANNEL_FD setup, exported undocumented by child_process. */
function forkChild(): ((fd: number, serialization: string) => void) | undefined {
  return (cp as unknown as { _forkChild?: (fd: number, serialization: string) => void })._forkChild
}

function removeQuietly(file: string): void {
  try {
    if (fs.lstatSync(file).isSocket()) fs.unlinkSync(file)
  } catch {
    // not there
  }
}

/** On stdout: stderr was a pipe to the dead supervisor; stdout is inherited from where dsu run was started. */
function warn(line: string): void {
  try {
    process.stdout.write(`${line}\n`)
  } catch {
    // nowhere to say it
  }
}
