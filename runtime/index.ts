/**
 * dsu runtime: the only import a program needs to be upgraded live.
 *
 *   import { state } from 'dsu'
 *   const sessions = await state('sessions', () => new Map())
 *   registerClass(Account)              // instances travel, arrive with the new version's methods
 *   registerType('lru', { isApplicable, serialize, deserialize })   // a library object, by codec
 *
 * Under `dsu run` the runtime registers marked state and listening sockets
 * with the supervisor and answers its upgrade phases. Run alone
 * (`node server.js`) every call here is a no-op or plain initialisation.
 *
 * Invariants the runtime upholds (README, "Guarantees"):
 *  - before commit only the old version serves; its work stops (requests,
 *    transactions, update points, paused timers) before its state is captured;
 *  - a successor's listen() binds the inherited listening socket at commit,
 *    so the kernel socket never closes and connections wait in its backlog;
 *  - on rollback the old version resumes exactly where it stopped.
 */
import { role, send } from './program/channel.js'
import { ENV_VERSION, ENV_WORKER, ENV_WORKERS } from './protocol.js'

export { state } from './program/roots.js'
export { registerClass, registerType, type TypeCodec, type ClassOptions } from './transfer/registry.js'
export { transaction, updatePoint, onPause, onQuiesced, onResume } from './program/quiescence.js'
export { ready, deferReady } from './program/ready.js'
export { longLived, adoptLongLived, type LongLivedOptions, type LongLivedStream } from './program/long-lived.js'
export { adoptWebSockets, type AdoptOptions } from './program/websockets.js'
export { carrySocketIo } from './program/socket-io.js'
export { DsuError, isDsuError, catalogue, type ErrorCode } from './errors.js'

/** The version label the supervisor gave this program, or null when run alone. */
export function version(): string | null {
  return role === null ? null : (process.env[ENV_VERSION] ?? null)
}

/**
 * Which worker this process is under `dsu run --workers N`: index 0…N-1 and
 * count N; { index: 0, count: 1 } with one worker or run alone. Each worker
 * has its own marked state: a program shards by it (or routes to it).
 */
export function worker(): { index: number; count: number } {
  const index = Number(process.env[ENV_WORKER])
  const count = Number(process.env[ENV_WORKERS])
  return role !== null && Number.isInteger(index) && Number.isInteger(count) && count > 0 ? { index, count } : { index: 0, count: 1 }
}

/** True when this process runs under `dsu run`. */
export function supervised(): boolean {
  return role !== null
}

// The upgrade machinery loads only under a supervisor, and a new version's
// side only in a new version: `node server.js` carries none of it. Awaited
// here, so listen() is intercepted before the program's own code runs.
if (role !== null) {
  const [{ interceptListen }, { startPredecessor }, { installGuards }, successor] = await Promise.all([
    import('./program/listeners.js'),
    import('./program/predecessor.js'),
    import('./program/guards.js'),
    role === 'successor' ? import('./program/successor.js') : null,
  ])
  const onClaim = successor ? successor.startSuccessor() : () => {}
  interceptListen(onClaim)
  installGuards()
  startPredecessor()
  void send({ dsu: 'hello', role, version: process.env[ENV_VERSION] ?? '', pid: process.pid, acks: true })
}
