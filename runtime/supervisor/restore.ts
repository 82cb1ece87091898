// Starting a program from a checkpoint (cold restore, crash restart): the
// program boots in the successor role, receives the checkpointed state over
// the same state stream an upgrade uses (the supervisor plays the old
// version, sending the verified file), transforms it if its version differs,
// and binds the listening sockets the supervisor holds.
import fs from 'node:fs'
import net from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { encodeRoots } from '../transfer/state-codec.js'
import { frameHead } from '../transfer/framing.js'
import { DsuError } from '../errors.js'
import type { ProgramProcess } from './program-process.js'
import { waitFor } from './program-process.js'
import { activate } from './activation.js'
import { newStreamToken, tokenBytes } from '../transfer/stream-auth.js'

export interface ActivationEnv {
  listeners: Map<string, unknown>
  timeoutMs: number
  streamPath(): string
}

export async function restoreFromFile(
  program: ProgramProcess,
  checkpoint: { file: string; version: string },
  env: ActivationEnv,
): Promise<{ bytes: number; records: number; roots: number }> {
  return restoreInto(program, () => fs.createReadStream(checkpoint.file), checkpoint.version, env)
}

/** A cold (re)start with no checkpoint: an empty state stream, so every root takes its init(). */
export function startFresh(program: ProgramProcess, env: ActivationEnv): Promise<unknown> {
  return restoreInto(program, () => Readable.from([emptyStream()]), program.version, env)
}

function emptyStream(): Buffer {
  return Buffer.concat([...encodeRoots(new Map())].flatMap((frame) => [frameHead(frame), frame]))
}

async function restoreInto(
  program: ProgramProcess,
  source: () => Readable,
  fromVersion: string,
  env: ActivationEnv,
): Promise<{ bytes: number; records: number; roots: number }> {
  const { timeoutMs } = env
  await waitFor(program, 'booted', { timeoutMs, phase: 'restore', failures: ['restore-failed'], exitCode: 'DSU_ERR_SPAWN_FAILED' })
  const path = env.streamPath()
  const token = newStreamToken()
  const receiving = waitFor(program, 'receiving', { timeoutMs, phase: 'restore', failures: ['restore-failed'] })
  void program.send({ dsu: 'receive-state', path, token, from: fromVersion, to: program.version })
  await receiving
  const restored = waitFor(program, 'restored', { timeoutMs, phase: 'restore', failures: ['restore-failed'] })
  const socket = net.connect(path)
  socket.write(tokenBytes(token))
  await pipeline(source(), socket).catch((cause) => {
    throw new DsuError('DSU_ERR_STATE_STREAM', `restore: streaming the checkpoint failed: ${(cause as Error).message}`, { cause })
  })
  const r = await restored
  await waitFor(program, 'ready', { timeoutMs, phase: 'ready', timeoutCode: 'DSU_ERR_READY_TIMEOUT' })
  await activate(program, env.listeners, { timeoutMs, phase: 'activate' })
  return { bytes: r.bytes, records: r.records, roots: r.roots }
}
