// How `dsu upgrade` and `dsu rollback` report an upgrade's outcome.
import { outputBlock, printable } from '../runtime/supervisor/output-tail.js'
import type { Phase } from '../runtime/supervisor/phases.js'
import { EXIT } from './exit-codes.js'
import { bytes, ms } from './output.js'

export interface UpgradeOutcome {
  outcome: 'committed' | 'rolled-back' | 'failed'
  from: string
  to: string
  /** ms per finished phase, in the order of PHASES (runtime/supervisor/phases.ts). */
  phases: Partial<Record<Phase, number>>
  pauseMs: number | null
  totalMs: number
  state: { bytes: number; records: number; roots: number } | null
  /** `output`: the new version's last stderr lines, when it caused the rollback. */
  error?: { code: string; message: string; phase: string; output?: string }
  pid: number
  connectionsMoved: number
  /** With several workers (`dsu run --workers N`). */
  strategy?: string
  pids?: number[]
  mixed?: boolean
  workers?: Array<{ worker: number; outcome: string; pid: number; pauseMs: number | null; error?: { code: string; phase: string } }>
}

export function printOutcome(result: UpgradeOutcome, json: boolean): number {
  if (json) {
    process.stdout.write(JSON.stringify({ ok: result.outcome === 'committed', ...result }) + '\n')
  } else if (result.outcome === 'committed') {
    const s = result.state
    const size = s ? `, ${s.roots} roots, ${s.records} records, ${bytes(s.bytes)}` : ''
    const pids = result.pids ? `${result.pids.length} workers, ${result.strategy}, pids ${result.pids.join(', ')}` : `pid ${result.pid}`
    process.stdout.write(`committed ${result.from} → ${result.to} (${pids}) in ${ms(result.totalMs)}; pause ${ms(result.pauseMs)}${size}\n`)
    const hint = initHint(result)
    if (hint) process.stdout.write(hint + '\n')
  } else if (result.outcome === 'failed') {
    // Not a rollback: the old version is gone; say so, and what happens next.
    const e = result.error!
    process.stderr.write(`FAILED ${result.from} → ${result.to} in phase ${e.phase}: ${e.code}: ${printable(e.message)}\n`)
    process.stderr.write(`The new version did not hold the complete state yet, so it was stopped. ${result.from} is not serving.\n`)
  } else {
    const e = result.error!
    process.stderr.write(`rolled back ${result.from} → ${result.to} in phase ${e.phase}: ${e.code}: ${e.message}\n`)
    if (e.output) process.stderr.write(outputBlock(e.output, '  '))
    if (result.mixed) process.stderr.write(`Workers that committed serve ${result.to}; the others serve ${result.from} with their state unchanged.\n`)
    else process.stderr.write(`${result.from} (${result.pids ? `pids ${result.pids.join(', ')}` : `pid ${result.pid}`}) keeps serving with its state unchanged.\n`)
  }
  return result.outcome === 'committed' ? EXIT.ok : result.outcome === 'failed' ? EXIT.programDied : EXIT.rolledBack
}

/** Below this, the init phase is not worth a word. */
const INIT_HINT_MS = 50

/**
 * When most of a committed upgrade's pause was the new version's own init
 * (code after its first `state()`, a framework's boot), say how to move it
 * out: the one part of the pause the program controls, and easy to miss.
 */
export function initHint(result: Pick<UpgradeOutcome, 'outcome' | 'phases' | 'pauseMs'>): string | null {
  const init = result.phases.init
  if (result.outcome !== 'committed' || init === undefined || result.pauseMs === null) return null
  if (init < INIT_HINT_MS || init < result.pauseMs / 2) return null
  return `hint: ${ms(init)} of the ${ms(result.pauseMs)} pause was the new version's init (its code after the first state()); ` +
    `move what does not need the state before state() — see "Keep init out of the pause" in dsu's README`
}
