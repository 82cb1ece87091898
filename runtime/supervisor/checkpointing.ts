// `dsu checkpoint` / --checkpoint-every: the program pauses at a quiescent
// point, streams its marked state to the supervisor (which writes it to disk
// as it arrives), and resumes at once. Nothing is handed over.
// A checkpoint that cannot be written (a full disk) fails alone: the partial
// files are removed, the program resumes with its state, and the caller gets
// DSU_ERR_CHECKPOINT_WRITE.
import type { ProgramProcess } from './program-process.js'
import { ask } from './program-link.js'
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
  const id = newCheckpointId()
  const path = env.streamPath()
  const token = newStreamToken()
  const { connection, close } = await listenOnce(path, token)
  const written = connection.then((socket) => {
    const file = receiveCheckpoint(env.stateDir, id, socket)
    socket.resume() // authenticated sockets come paused (transfer/stream-auth.ts)
    return file
  })
  // Awaited below only once the program said it sent everything. A write that
  // failed breaks the stream, so the program then reports a broken stream:
  // the write error, seen first, is the one that says what happened.
  let writeError: unknown = null
  written.catch((error) => (writeError = error))
  try {
    // Numbered: a late reply to an earlier, timed-out checkpoint cannot answer this one.
    const sent = ask(program, { dsu: 'checkpoint', path, token, timeoutMs: env.timeoutMs }, 'checkpointed', { timeoutMs: env.timeoutMs * 2, phase: 'checkpoint', exitCode: 'DSU_ERR_PROGRAM_EXITED' })
    const stats = await sent.catch((error) => {
      throw writeError ?? error
    })
    const file = await written
    const meta: CheckpointMeta = {
      id, version: program.version, entry: program.entry, createdAt: new Date().toISOString(),
      bytes: file.bytes, records: stats.records, roots: stats.roots, sha256: file.sha256,
    }
    commitCheckpoint(env.stateDir, meta)
    pruneCheckpoints(env.stateDir, env.keep)
    return meta
  } catch (error) {
    try {
      discardCheckpoint(env.stateDir, id)
    } catch {
      // what is left is an incomplete checkpoint (no .json): never listed, never loaded
    }
    throw error
  } finally {
    close()
  }
}
