// Starting a program from a checkpoint (cold restore, crash restart): the
// program boots in the successor role, receives the checkpointed state over
// the same state stream an upgrade uses (the supervisor plays the old
// version, sending the verified file), transforms it if its version differs,
// and binds the listening sockets the supervisor holds.
//
// A checkpoint is data from disk, so it may be bad in ways its hash does not
// show: state the program cannot decode is DSU_ERR_CHECKPOINT_CORRUPT like a
// hash mismatch. `restoreNewest` (for `--restore latest` and crash restarts)
// then tries the next older checkpoint, and starts cold when none is left.
import net from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { encodeRoots } from '../transfer/state-codec.js'
import { frameHead } from '../transfer/framing.js'
import { DsuError, isDsuError } from '../errors.js'
import type { ProgramProcess } from './program-process.js'
import type { Request } from './program-link.js'
import { activate } from './activation.js'
import { newStreamToken, tokenBytes } from '../transfer/stream-auth.js'
import { openCheckpointState, verifyCheckpoint, type VerifiedCheckpoint } from './checkpoint-store.js'

export interface ActivationEnv {
  listeners: Map<string, unknown>
  /** A handle the program did not claim (activation.ts); default: closed. */
  unclaimed?: (key: string, handle: unknown) => void
  timeoutMs: number
  streamPath(): string
}

export interface RestoreStats {
  bytes: number
  records: number
  roots: number
}

/** Restores `checkpoint` into `program`; state the program cannot decode is DSU_ERR_CHECKPOINT_CORRUPT. */
export function restoreFromFile(program: ProgramProcess, checkpoint: VerifiedCheckpoint, env: ActivationEnv): Promise<RestoreStats> {
  // A stream that broke once the program had it means the file's bytes: the
  // program read them and refused them (or they could not be read). Its hash
  // matched, so it was written that way; it is as unusable as a corrupt one.
  const blame = (error: unknown): unknown => isDsuError(error, 'DSU_ERR_STATE_STREAM')
    ? new DsuError('DSU_ERR_CHECKPOINT_CORRUPT', `checkpoint ${checkpoint.id}: ${program.version} could not load it: ${error.message}`, { cause: error })
    : error
  return restoreInto(program, () => openCheckpointState(checkpoint), checkpoint.version, env, blame)
}

/**
 * Restores `stream` (a state file turned into frames, `dsu run --restore
 * file.json`) into `program`; state the program cannot decode is
 * DSU_ERR_STATE_FILE, naming `source`.
 */
export function restoreFromStream(program: ProgramProcess, stream: Buffer, fromVersion: string, source: string, env: ActivationEnv): Promise<RestoreStats> {
  const blame = (error: unknown): unknown => isDsuError(error, 'DSU_ERR_STATE_STREAM')
    ? new DsuError('DSU_ERR_STATE_FILE', `${source}: ${program.version} could not load it: ${error.message}`, { cause: error })
    : error
  return restoreInto(program, () => Readable.from([stream]), fromVersion, env, blame)
}

/** A cold (re)start with no checkpoint: an empty state stream, so every root takes its init(). */
export function startFresh(program: ProgramProcess, env: ActivationEnv): Promise<RestoreStats> {
  return restoreInto(program, () => Readable.from([emptyStream()]), program.version, env, (error) => error)
}

function emptyStream(): Buffer {
  return Buffer.concat([...encodeRoots(new Map())].flatMap((frame) => [frameHead(frame), frame]))
}

async function restoreInto(
  program: ProgramProcess,
  open: () => Readable,
  fromVersion: string,
  env: ActivationEnv,
  /** What a failure of the stream's contents becomes. */
  blame: (error: unknown) => unknown,
): Promise<RestoreStats> {
  const { timeoutMs } = env
  await program.milestone('booted', { timeoutMs, phase: 'restore', exitCode: 'DSU_ERR_SPAWN_FAILED' })
  const path = env.streamPath()
  const token = newStreamToken()
  const stream = program.request({ dsu: 'receive-state', path, token, from: fromVersion, to: program.version })
  try {
    return await restoreThrough(program, stream, path, token, open, env, blame)
  } finally {
    stream.close()
  }
}

async function restoreThrough(
  program: ProgramProcess,
  stream: Request<'receive-state'>,
  path: string,
  token: string,
  open: () => Readable,
  env: ActivationEnv,
  blame: (error: unknown) => unknown,
): Promise<RestoreStats> {
  const { timeoutMs } = env
  await stream.reply('receiving', { timeoutMs, phase: 'restore' })
  // Watched from now on, whatever fails first: the program may refuse the
  // stream while it is still being sent (the send then breaks too), and a
  // refusal nobody awaits would be an unhandled rejection.
  const restored = stream.reply('restored', { timeoutMs, phase: 'restore' })
  restored.catch(() => {})
  const source = open() // throws DSU_ERR_CHECKPOINT_CORRUPT if the file is no longer a regular file
  const failed: { read?: Error } = {}
  source.once('error', (error) => (failed.read = error))
  const socket = net.connect(path)
  socket.write(tokenBytes(token))
  let connected = false
  socket.once('connect', () => (connected = true))
  await pipeline(source, socket).catch((cause) => {
    // Once connected, the program sees the stream end early and says so
    // through `restored`; a stream that never opened it would be waited for forever.
    if (!connected) {
      source.destroy()
      throw new DsuError('DSU_ERR_STATE_STREAM', `restore: cannot connect to ${program.version}'s state stream: ${(cause as Error).message}`, { cause })
    }
  })
  let r: Awaited<typeof restored>
  try {
    r = await restored
  } catch (error) {
    throw blame(failed.read
      ? new DsuError('DSU_ERR_STATE_STREAM', `reading the file failed: ${failed.read.message}`, { cause: failed.read })
      : error)
  }
  await program.milestone('ready', { timeoutMs, phase: 'ready', timeoutCode: 'DSU_ERR_READY_TIMEOUT' })
  await activate(program, env.listeners, { timeoutMs, phase: 'activate' }, env.unclaimed)
  return { bytes: r.bytes, records: r.records, roots: r.roots }
}

export interface FallbackEnv extends ActivationEnv {
  stateDir: string
  /** Spawns the program that will receive `checkpoint`, or start cold with null. */
  spawn(checkpoint: VerifiedCheckpoint | null): ProgramProcess
  /** Brings a program spawned with null to serving. */
  startCold(program: ProgramProcess): Promise<unknown>
  /** Stops a program whose checkpoint was refused; its exit is not a crash. */
  discard(program: ProgramProcess): void
  /** Checkpoint `id` was passed over as unusable. */
  skipped(id: string): void
  log(line: string): void
}

export interface Restored {
  program: ProgramProcess
  /** The checkpoint it serves from; null: a cold start. */
  checkpoint: VerifiedCheckpoint | null
  stats: RestoreStats | null
  /** Checkpoints passed over, newest first, and why. */
  skipped: Array<{ id: string; code: string; message: string }>
}

/**
 * Starts the program from the newest of `ids` (newest first) it can load:
 * a checkpoint that fails verification or that the program cannot decode
 * (DSU_ERR_CHECKPOINT_CORRUPT) is skipped, with a log line; with none left,
 * the program starts cold. Any other failure (the program crashes, a
 * transformer throws) is not the checkpoint's fault and is thrown.
 */
export async function restoreNewest(ids: readonly string[], env: FallbackEnv): Promise<Restored> {
  const skipped: Restored['skipped'] = []
  const skip = (id: string, error: DsuError): void => {
    skipped.push({ id, code: error.code, message: error.message })
    env.skipped(id)
    env.log(`dsu: skipping checkpoint ${id}: ${error.code}: ${error.message}`)
  }
  for (const id of ids) {
    let checkpoint: VerifiedCheckpoint
    try {
      checkpoint = verifyCheckpoint(env.stateDir, id)
    } catch (error) {
      if (!isDsuError(error, 'DSU_ERR_CHECKPOINT_CORRUPT')) throw error
      skip(id, error)
      continue
    }
    const program = env.spawn(checkpoint)
    try {
      const stats = await restoreFromFile(program, checkpoint, env)
      return { program, checkpoint, stats, skipped }
    } catch (error) {
      if (!isDsuError(error, 'DSU_ERR_CHECKPOINT_CORRUPT')) throw error
      env.discard(program)
      skip(id, error)
    }
  }
  if (skipped.length > 0) env.log(`dsu: no usable checkpoint (${skipped.length} skipped); starting with fresh state`)
  const program = env.spawn(null)
  await env.startCold(program)
  return { program, checkpoint: null, stats: null, skipped }
}
