// Activation, the start of commit: the new program gets the listening handles
// the supervisor holds and binds them; handles it did not claim are closed.
// Used by upgrades, cold restores and crash restarts alike.
import type { ProgramProcess } from './program-process.js'
import { waitFor } from './program-process.js'

export async function activate(
  program: ProgramProcess,
  listeners: Map<string, unknown>,
  wait: { timeoutMs?: number; signal?: AbortSignal; phase: string },
): Promise<void> {
  for (const [key, handle] of listeners) await program.send({ dsu: 'listen-handle', key }, handle)
  const active = waitFor(program, 'active', wait)
  void program.send({ dsu: 'activate', keys: [...listeners.keys()] })
  const { keys } = await active
  for (const [key, handle] of listeners) {
    if (keys.includes(key)) continue
    listeners.delete(key)
    ;(handle as { close?: () => void }).close?.()
  }
}
