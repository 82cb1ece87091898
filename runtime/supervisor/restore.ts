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
import { DsuError } from '../errors.js'
import type { ProgramProcess } from './program-process.js'
import { waitFor } from './program-process.js'

export interface ActivationEnv {
  listeners: Map<string, unknown>
  timeoutMs: number
  streamPath(): string
}

/** Sends the supervisor's listening handles and lets the program bind them. */
export async function activate(program: ProgramProcess, env: ActivationEnv, phase: string): Promise<void> {
  for (const [key, handle] of env.listeners) await program.send({ dsu: 'listen-handle', key }, handle)
  const active = waitFor(program, 'active', { timeoutMs: env.timeoutMs, phase })
  void program.send({ dsu: 'activate', keys: [...env.listeners.keys()] })
  const { keys } = await active
  for (const [key, handle] of env.listeners) {
    if (keys.includes(key)) continue
    env.listeners.delete(key)
    ;(handle as { close?: () => void }).close?.()
  }
}

export async function restoreFromFile(
  program: ProgramProcess,
  checkpoint: { file: string; version: string },
  transformer: string | null,
  env: ActivationEnv,
): Promise<{ bytes: number; records: number; roots: number }> {
  return restoreInto(program, () => fs.createReadStream(checkpoint.file), checkpoint.version, transformer, env)
}

/** A cold (re)start with no checkpoint: an empty state stream, so every root takes its init(). */
export function startFresh(program: ProgramProcess, env: ActivationEnv): Promise<unknown> {
  return restoreInto(program, () => Readable.from([emptyStream()]), program.version, null, env)
}

function emptyStream(): Buffer {
  const parts: Buffer[] = []
  for (const frame of encodeRoots(new Map())) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(frame.length)
    parts.push(length, frame)
  }
  return Buffer.concat(parts)
}

async function restoreInto(
  program: ProgramProcess,
  source: () => Readable,
  fromVersion: string,
  transformer: string | null,
  env: ActivationEnv,
): Promise<{ bytes: number; records: number; roots: number }> {
  const { timeoutMs } = env
  await waitFor(program, 'booted', { timeoutMs, phase: 'restore', failures: ['restore-failed'], exitCode: 'DSU_ERR_SPAWN_FAILED' })
  const path = env.streamPath()
  const receiving = waitFor(program, 'receiving', { timeoutMs, phase: 'restore', failures: ['restore-failed'] })
  void program.send({ dsu: 'receive-state', path, from: fromVersion, to: program.version, transformer })
  await receiving
  const restored = waitFor(program, 'restored', { timeoutMs, phase: 'restore', failures: ['restore-failed'] })
  const socket = net.connect(path)
  await pipeline(source(), socket).catch((cause) => {
    throw new DsuError('DSU_ERR_STATE_STREAM', `restore: streaming the checkpoint failed: ${(cause as Error).message}`, { cause })
  })
  const r = await restored
  await waitFor(program, 'ready', { timeoutMs, phase: 'ready', timeoutCode: 'DSU_ERR_READY_TIMEOUT' })
  await activate(program, env, 'activate')
  return { bytes: r.bytes, records: r.records, roots: r.roots }
}
