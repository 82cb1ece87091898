// Activation, the start of commit: the new program gets the listening handles
// the supervisor holds and binds them; handles it did not claim are closed.
// Used by upgrades, cold restores and crash restarts alike.
import type { ProgramProcess } from './program-process.js'
import { ask, type Wait } from './program-link.js'

export async function activate(
  program: ProgramProcess,
  listeners: Map<string, unknown>,
  wait: Wait,
  /**
   * What becomes of a handle the program did not claim; by default the
   * supervisor forgets and closes it. With several workers (supervisor.ts)
   * another worker may still use it.
   */
  unclaimed: (key: string, handle: unknown) => void = (key, handle) => {
    if (listeners.get(key) === handle) listeners.delete(key)
    ;(handle as { close?: () => void }).close?.()
  },
): Promise<void> {
  // Only the handles offered here can be unclaimed: a listener the program
  // binds fresh while activating registers in `listeners` too, possibly
  // before 'active' is handled, and must not be closed as unclaimed.
  const offered = [...listeners]
  for (const [key, handle] of offered) await program.send({ dsu: 'listen-handle', key }, handle)
  const { keys } = await ask(program, { dsu: 'activate', keys: offered.map(([key]) => key) }, 'active', wait)
  for (const [key, handle] of offered) {
    if (!keys.includes(key)) unclaimed(key, handle)
  }
}
