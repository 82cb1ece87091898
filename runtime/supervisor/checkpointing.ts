// `dsu checkpoint` / --checkpoint-every: the program pauses at a quiescent
// point, streams its marked state to the supervisor (which writes it to disk
// as it arrives), and resumes at once. Nothing is handed over.
import net from 'node:net'
import type { ProgramProcess } from './program-process.js'
import { waitFor } from './program-process.js'
import { commitCheckpoint, discardCheckpoint, newCheckpointId, pruneCheckpoints, receiveCheckpoint, type CheckpointMeta } from './checkpoint-store.js'
import { listenOnce } from './stream-socket.js'
import { newStreamToken } from '../transfer/stream-auth.js'

export interface CheckpointEnv {
  stateDir: string
  streamPath(): string
  timeoutMs: number
  keep: number
}

export async function takeCheckpoint(program: ProgramProcess, env: CheckpointEnv): Promise<CheckpointMeta> {
  program.clearInbox() // a late reply to an earlier, timed-out checkpoint must not answer this one
  const id = newCheckpointId()
  const path = env.streamPath()
  const token = newStreamToken()
  const { connection, close } = await listenOnce(path, token)
  const written = connection.then((socket) => {
    const file = receiveCheckpoint(env.stateDir, id, socket)
    socket.resume() // authenticated sockets come paused (transfer/stream-auth.ts)
    return file
  })
  written.catch(() => {}) // awaited below only once the program said it sent everything
  try {
    const sent = waitFor(program, 'checkpointed', { timeoutMs: env.timeoutMs * 2, phase: 'checkpoint', failures: ['checkpoint-failed'], exitCode: 'DSU_ERR_PROGRAM_EXITED' })
    void program.send({ dsu: 'checkpoint', path, token, timeoutMs: env.timeoutMs })
    const stats = await sent
    const file = await written
    const meta: CheckpointMeta = {
      id, version: program.version, entry: program.entry, createdAt: new Date().toISOString(),
      bytes: file.bytes, records: stats.records, roots: stats.roots, sha256: file.sha256,
    }
    commitCheckpoint(env.stateDir, meta)
    pruneCheckpoints(env.stateDir, env.keep)
    return meta
  } catch (error) {
    discardCheckpoint(env.stateDir, id)
    throw error
  } finally {
    close()
  }
}
