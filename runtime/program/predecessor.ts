// The running version's side of an upgrade: quiesce, stream the marked roots,
// then either resume (rollback) or hand every connection to the new version
// and exit (commit). Also the graceful stop.
import net from 'node:net'
import http from 'node:http'
import { toWire } from '../errors.js'
import { on, onSupervisorGone, reply, send } from './channel.js'
import { isActive, servers } from './listeners.js'
import { awaitAdoption } from './orphan.js'
import { inflightCount, quiesce, resume } from './quiescence.js'
import { manifest, markedRoots, precopyRoots } from './roots.js'
import type { PrecopySender } from '../transfer/precopy.js'
import type { AheadAdoption, ProgramMessage } from '../protocol.js'

// The transfer code loads on first use: a program that is never upgraded
// or checkpointed does not carry it.
const transfer = (): Promise<typeof import('../transfer/state-stream.js')> => import('../transfer/state-stream.js')

export function startPredecessor(): void {
  on('quiesce', (message) => {
    quiesce(message.timeoutMs).then(
      () => (message.moveAhead ? sendAhead(message, message.moveAhead) : reply(message, { dsu: 'quiesced' })),
      (error) => reply(message, { dsu: 'quiesce-failed', error: toWire(error) }),
    )
  })
  on('send-state', (message) => {
    startAhead()
    if (message.precopy) return void startPrecopy(message, message.path, message.token, message.progressMs)
    Promise.all([connect(message.path, message.token), transfer()]).then(([socket, { sendState }]) => sendState(socket, markedRoots())).then(
      (stats) => reply(message, { dsu: 'sent', ...stats }),
      (error) => reply(message, { dsu: 'send-failed', error: toWire(error, 'DSU_ERR_STATE_STREAM') }),
    )
  })
  on('manifest', (message) => {
    // An upgrade begins: load the transfer code now, while this version
    // still serves, not in the pause (a cold import took 40-70 ms on a loaded
    // machine, most of a small state's transfer phase).
    transfer().catch(() => {}) // a failure surfaces where it is used
    void manifest().then((roots) => reply(message, { dsu: 'manifest', roots }))
  })
  on('checkpoint', (message) => void checkpoint(message, message.path, message.token, message.timeoutMs))
  on('finish-state', (message) => {
    startAhead()
    void finishPrecopy(message)
  })
  on('resume', () => rollBack())
  on('commit', (message) => void handOff(message))
  on('stop', (message) => void stop(message.timeoutMs))
  // The supervisor is gone without a stop (kill -9): the serving version
  // serves on, as it was before any upgrade or checkpoint under way, and
  // waits to be re-adopted (orphan.ts); a new version not yet serving, or
  // one without an adopt socket, stops.
  onSupervisorGone(() => {
    if (finishing) return
    if (!isActive()) return void stop(5000)
    rollBack()
    if (!awaitAdoption()) void stop(5000)
  })
}

/**
 * The upgrade under way is abandoned (rolled back, or its supervisor died):
 * the pre-copy stream is dropped, connections sent ahead stay with this
 * version (its own copies), and it serves again.
 */
function rollBack(): void {
  precopy?.abort()
  precopy = null
  aheadTag = null
  aheadStart = null
  resume()
}

/** A supervisor request: its seq goes back with each reply. */
type Request = { seq?: number }

/** The upgrade whose new version gets copies of the frozen connections (sendAhead()). */
let aheadTag: string | null = null
/** Sending them: resolves once every one is sent (or the upgrade rolled back). */
let aheadSent: Promise<void> = Promise.resolve()
/** Starts sending them, once the state stream is open (startAhead()). */
let aheadStart: (() => void) | null = null
let aheadIds = 0

/**
 * Quiesced for an upgrade: says so, and how many frozen connections' handles
 * it sends ahead to the new version while the state is transferred, instead
 * of after the pause. Node sends handles one at a time, each waiting for the
 * receiver's acknowledgement (about a millisecond on a loaded machine), and
 * every other message queues behind: so they go one by one, each once the
 * one before is written, so that the pause's own messages ('sent', and the
 * supervisor's to the new version) wait for at most one of them; and they
 * start once the supervisor asks for the state, when the new version's
 * stream is open (its 'receive-state' must not wait either). What is not
 * through by commit follows it.
 */
function sendAhead(request: Request, tag: string): Promise<void> {
  aheadTag = tag
  const ahead = [...servers].flatMap(([key, connections]) => connections.takeAhead(() => ++aheadIds).map((c) => ({ key, ...c })))
  const told = reply(request, { dsu: 'quiesced', ahead: { tag, count: ahead.length } })
  aheadStart = () => void (aheadSent = (async () => {
    for (const { key, id, socket } of ahead) {
      // Rolled back: this version keeps its connections (the supervisor stops waiting for the rest).
      if (aheadTag !== tag) return
      // Closed since (a write failed): the new version, told nothing of it, closes nothing.
      if (!socket._handle) continue
      await send({ dsu: 'connection', key, ahead: { tag, id } }, socket._handle)
    }
  })())
  return told
}

function startAhead(): void {
  const start = aheadStart
  aheadStart = null
  start?.()
}

/** Set once the program stops or hands off: it is going away, not orphaned. */
let finishing = false

let precopy: PrecopySender | null = null

/** Connects to a state-stream socket the receiver (new version or supervisor) listens on, and authenticates. */
function connect(path: string, token: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path)
    socket.once('connect', () => {
      // The stream's token first (transfer/stream-auth.ts); inline, so a program
      // that is never upgraded does not load the transfer code.
      socket.write(Buffer.from(token, 'hex'))
      resolve(socket)
    })
    // Stays attached: an error before the sender adds its own handlers must
    // not be an uncaught exception (the sender sees the socket fail anyway).
    socket.once('error', reject)
  })
}

/** While serving: snapshot and rounds of changes of the pre-copy roots. */
async function startPrecopy(request: Request, path: string, token: string, progressMs = 250): Promise<void> {
  try {
    const socket = await connect(path, token)
    socket.on('error', () => {}) // surfaces as a failed write; the supervisor rolls back
    const { PrecopySender } = await import('../transfer/precopy.js')
    // Progress reports push back the supervisor's stall deadline.
    precopy = new PrecopySender(socket, precopyRoots(), { progressMs, onProgress: (bytes) => void reply(request, { dsu: 'precopy-progress', bytes }) })
    const { rounds, lastRound } = await precopy.run()
    await reply(request, { dsu: 'precopied', rounds, lastRound, bytes: socket.bytesWritten })
  } catch (error) {
    precopy?.abort()
    precopy = null
    await reply(request, { dsu: 'send-failed', error: toWire(error, 'DSU_ERR_STATE_STREAM') })
  }
}

/** At the quiescent point: what changed since, and every other root. */
async function finishPrecopy(request: Request): Promise<void> {
  const sender = precopy
  if (!sender) return void reply(request, { dsu: 'send-failed', error: toWire(new Error('finish-state without a pre-copy'), 'DSU_ERR_INTERNAL') })
  try {
    const others = new Map([...markedRoots()].filter(([name]) => !sender.copies(name)))
    const stats = await sender.finish(others)
    await reply(request, { dsu: 'sent', ...stats })
  } catch (error) {
    sender.abort()
    await reply(request, { dsu: 'send-failed', error: toWire(error, 'DSU_ERR_STATE_STREAM') })
  } finally {
    precopy = null
  }
}

/** A snapshot at a brief quiescent point: the program resumes right after. */
async function checkpoint(request: Request, path: string, token: string, timeoutMs: number): Promise<void> {
  try {
    await quiesce(timeoutMs, 'snapshot')
  } catch (error) {
    return reply(request, { dsu: 'checkpoint-failed', error: toWire(error) })
  }
  try {
    const socket = await connect(path, token)
    const { sendState } = await transfer()
    const stats = await sendState(socket, markedRoots())
    resume()
    await reply(request, { dsu: 'checkpointed', ...stats })
  } catch (error) {
    resume()
    await reply(request, { dsu: 'checkpoint-failed', error: toWire(error, 'DSU_ERR_STATE_STREAM') })
  }
}

// Long-lived responses (SSE…), and frames written to moving WebSockets during
// the pause, get this long to be written out at commit (or stop).
const END_LONG_LIVED_MS = 2000

async function handOff(request: Request): Promise<void> {
  finishing = true
  let moved = 0
  // Listeners first: a client reconnecting after its stream ends reaches the new version.
  for (const connections of servers.values()) connections.closeListener()
  await Promise.all([...servers.values()].flatMap((connections) => [
    connections.endLongLived(END_LONG_LIVED_MS),
    connections.flushWebSockets(END_LONG_LIVED_MS),
  ]))
  // Connections sent ahead in the pause: one message says how to adopt them
  // (the new version closes the others), sent now, even if some are still
  // on their way (the new version adopts those as they arrive); this
  // version's copies close once all have left. The rest (accepted in the
  // pause, or not sent ahead) go after them, all at once: Node queues them
  // behind each handle's acknowledgement, in order.
  const tag = aheadTag
  const adoptions: AheadAdoption[] = []
  const releases: Array<() => void> = []
  const rest: Array<{ message: Extract<ProgramMessage, { dsu: 'connection' }>; handle: unknown; release(): void }> = []
  for (const [key, connections] of servers) {
    for (const { handle, ahead, release, ws, stream } of connections.takeConnections()) {
      const moving = { key, ...(ws ? { ws } : {}), ...(stream ? { stream } : {}) }
      if (tag !== null && ahead !== undefined) {
        adoptions.push({ ...moving, id: ahead })
        releases.push(release)
      } else {
        rest.push({ message: { dsu: 'connection', ...moving }, handle, release })
      }
      moved++
    }
  }
  if (tag !== null) {
    await send({ dsu: 'adopt-ahead', tag, connections: adoptions })
    await aheadSent
    for (const release of releases) release()
  }
  await Promise.all(rest.map(({ message, handle, release }) => send(message, handle).then(release)))
  await reply(request, { dsu: 'handed-off', connections: moved })
  process.exit(0)
}

async function stop(timeoutMs: number): Promise<void> {
  finishing = true
  resume()
  for (const connections of servers.values()) {
    const { server } = connections
    server.close()
    if (server instanceof http.Server) server.closeIdleConnections()
    // Open streams would hold the stop until its deadline: end them (clients reconnect later).
    void connections.endLongLived(END_LONG_LIVED_MS, false)
    connections.closeWebSockets()
  }
  const deadline = Date.now() + timeoutMs
  while (inflightCount() > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  process.exit(0)
}
