// Pause vs marked state size, seen two ways: the supervisor's `pauseMs` from
// `dsu upgrade --json`, and the longest gap between consecutive 2xx responses
// of an autocannon load running through the upgrade. Part of `main.ts`.
import { runSupervised } from '../harness.js'
import { benchApp, fmtCount, longestGap, progress, sleep, startLoad, upgradeOnce } from './common.js'
import { PHASES } from '../../runtime/supervisor/phases.js'

export interface PauseResult {
  records: number
  /** The records root opted in to pre-copy (true), out of it (false), or left to dsu's default ($DSU_BENCH_PRECOPY). */
  precopy: boolean | 'default'
  /** Records held as registered class instances ($DSU_BENCH_CLASSES). */
  classes?: boolean
  pauseMs: number[]
  clientGapMs: number[]
  /**
   * Longest gap between responses while the old version pre-copied, before
   * the pause (NaN for upgrades without a pre-copy phase): what clients see
   * of the snapshot being serialized while the old version serves.
   */
  precopyGapMs: number[]
  /** Longest gap in the same load just before the upgrade: the noise floor. */
  floorGapMs: number[]
  totalMs: number[]
  phases: Record<string, number[]>
  /** Bytes on the wire as the dsu codec counts them (`state.bytes`), per upgrade. */
  bytes: number[]
  /** Client errors, timeouts and non-2xx responses over all loads of this size. */
  clientErrors: number
}

export async function pauseForSize(records: number, runs: number, precopy: boolean | 'default' = false, classes = false, transformer?: string): Promise<PauseResult> {
  const entry = benchApp('records.js')
  progress(`pause: starting dsu run records.js with ${fmtCount(records)} records${precopy === 'default' ? ', default' : precopy ? ', pre-copy' : ''}${classes ? ', class instances' : ''}`)
  const env: Record<string, string> = { DSU_BENCH_RECORDS: String(records), ...(precopy === 'default' ? {} : { DSU_BENCH_PRECOPY: precopy ? '1' : '0' }), ...(classes ? { DSU_BENCH_CLASSES: '1' } : {}) }
  const sup = await runSupervised(entry, ['--timeout', '120000'], env)
  const out: PauseResult = { records, precopy, ...(classes ? { classes } : {}), pauseMs: [], clientGapMs: [], precopyGapMs: [], floorGapMs: [], totalMs: [], phases: {}, bytes: [], clientErrors: 0 }
  try {
    for (let i = 0; i < runs; i++) {
      // POST: each request reads and changes one random record, so pre-copy
      // runs against writes. A cap; stopped right after the upgrade.
      const load = startLoad(sup.port, 120, 10, 'POST')
      await sleep(600)
      const from = performance.now()
      const r = await upgradeOnce(sup.stateDir, entry, transformer ? ['--transformer', transformer] : [])
      const to = performance.now()
      await sleep(300)
      const result = await load.stop()
      out.clientErrors += result.errors + result.timeouts + result.non2xx
      out.pauseMs.push(r.pauseMs)
      out.totalMs.push(r.totalMs)
      out.clientGapMs.push(longestGap(load.stamps, from, to))
      out.precopyGapMs.push(precopyGap(load.stamps, from, to, r))
      out.floorGapMs.push(longestGap(load.stamps, from - 500, from - 1))
      for (const p of PHASES) if (r.phases[p] !== undefined) (out.phases[p] ??= []).push(r.phases[p])
      out.bytes.push(r.state?.bytes ?? 0)
      progress(`pause${precopy === 'default' ? ' (default)' : precopy ? ' (pre-copy)' : ''}: ${fmtCount(records)} run ${i + 1}/${runs}: pause ${r.pauseMs.toFixed(1)} ms, client gap ${out.clientGapMs.at(-1)!.toFixed(1)} ms${r.phases.precopy === undefined ? '' : ` (during pre-copy ${out.precopyGapMs.at(-1)!.toFixed(1)} ms, pre-copy ${r.phases.precopy.toFixed(0)} ms)`}`)
      await sleep(200)
    }
  } finally {
    await sup.stop()
  }
  return out
}

/**
 * The longest gap between consecutive responses that ends before the pause
 * began. The supervisor's phase times place the quiesce at spawn + precopy
 * after the upgrade started, and the upgrade ended `totalMs` after it
 * started, just before the CLI returned at `to`: the quiesce is taken as
 * `to − totalMs + spawn + precopy`, a few ms late at most (the CLI's exit):
 * too little for a gap that spans the pause to end before it.
 */
export function precopyGap(stamps: number[], from: number, to: number, r: { totalMs: number; phases: Record<string, number | undefined> }): number {
  if (r.phases.precopy === undefined) return NaN
  const quiesce = to - r.totalMs + (r.phases.spawn ?? 0) + r.phases.precopy
  let gap = 0
  for (let i = 1; i < stamps.length && stamps[i]! < quiesce; i++) {
    if (stamps[i]! < from) continue
    gap = Math.max(gap, stamps[i]! - stamps[i - 1]!)
  }
  return gap
}
