// Upgrading every worker of `dsu run --workers N` (README, "Several workers").
// Each worker is upgraded by the one-process state machine (upgrade.ts), old
// worker i streaming to its new counterpart i; this file only orders them:
//   atomic   all at once, held at two barriers: no worker quiesces before
//            every new version booted, and no new version serves before every
//            one holds its state. One failure before the second barrier rolls
//            every worker back; mixed versions never serve.
//   rolling  one worker after the other; the others serve meanwhile, so the
//            service never pauses as a whole, and both versions serve until
//            the last worker commits. The first worker that does not commit
//            stops the rollout: the workers before it keep the new version
//            (`mixed`), the ones after it keep the old one.
// A worker already running the target (a rollout stopped half-way) is skipped.
import { DsuError, type WireError } from '../errors.js'
import type { ProgramProcess } from './program-process.js'
import type { Phase, UpgradeResult } from './upgrade.js'

export type Strategy = 'atomic' | 'rolling'
export const STRATEGIES: readonly Strategy[] = ['atomic', 'rolling']

export interface WorkerUpgrade {
  worker: number
  /** 'skipped': it ran the target already; 'not-started': a rolling rollout stopped before it. */
  outcome: UpgradeResult['outcome'] | 'skipped' | 'not-started'
  from: string
  to: string
  /** The process serving this worker afterwards. */
  pid: number
  phases: UpgradeResult['phases']
  pauseMs: number | null
  totalMs: number
  state: UpgradeResult['state']
  connectionsMoved: number
  error?: UpgradeResult['error']
}

export interface FleetResult extends UpgradeResult {
  strategy: Strategy
  workers: WorkerUpgrade[]
  /** The process serving each worker afterwards, by index. */
  servingAll: ProgramProcess[]
  /** Both versions serve: a rolling rollout stopped after some workers committed. */
  mixed: boolean
}

export interface FleetEnv {
  /** The process serving worker i once it serves (a crash restart under way is waited for). */
  serving(index: number): Promise<ProgramProcess>
  /** Upgrades one worker; `barrier` is given to atomic upgrades. */
  upgrade(index: number, old: ProgramProcess, barrier?: (point: 'quiesce' | 'activate', signal: AbortSignal) => Promise<void>): Promise<UpgradeResult>
  now(): number
}

/** Every party arrives or one fails: `arrive` settles for all at once. */
export class Barrier {
  private arrived = 0
  private failure: DsuError | null = null
  private readonly waiting: Array<{ resolve: () => void; reject: (e: DsuError) => void }> = []
  private opened = false

  constructor(private readonly parties: number) {}

  arrive(signal?: AbortSignal): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal!.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => signal?.removeEventListener('abort', onAbort)
      this.waiting.push({ resolve: () => (done(), resolve()), reject: (e) => (done(), reject(e)) })
      if (++this.arrived >= this.parties) this.open()
    })
  }

  /** Too late once it opened: the parties have passed it. */
  fail(error: DsuError): void {
    if (this.opened || this.failure) return
    this.failure = error
    for (const w of this.waiting.splice(0)) w.reject(error)
  }

  get isOpen(): boolean {
    return this.opened
  }

  private open(): void {
    this.opened = true
    for (const w of this.waiting.splice(0)) w.resolve()
  }
}

export async function upgradeFleet(
  count: number,
  target: { version: string; entry: string },
  strategy: Strategy,
  env: FleetEnv,
): Promise<FleetResult> {
  const t0 = env.now()
  const results: Array<UpgradeResult | null> = new Array(count).fill(null)
  const olds: ProgramProcess[] = []
  const skipped = new Set<number>()
  const upToDate = (p: ProgramProcess): boolean => p.version === target.version && p.entry === target.entry
  if (strategy === 'rolling') {
    for (let i = 0; i < count; i++) {
      const old = await env.serving(i)
      olds[i] = old
      if (upToDate(old)) {
        skipped.add(i)
        continue
      }
      const r = await env.upgrade(i, old)
      results[i] = r
      if (r.outcome !== 'committed') {
        for (let j = i + 1; j < count; j++) olds[j] = await env.serving(j)
        break
      }
    }
  } else {
    for (let i = 0; i < count; i++) {
      olds[i] = await env.serving(i)
      if (upToDate(olds[i]!)) skipped.add(i)
    }
    const parties = count - skipped.size
    const quiesce = new Barrier(parties)
    const activate = new Barrier(parties)
    await Promise.all(olds.map(async (old, i) => {
      if (skipped.has(i)) return
      const r = await env.upgrade(i, old, (point, signal) => (point === 'quiesce' ? quiesce : activate).arrive(signal))
      results[i] = r
      if (r.outcome !== 'committed' && !isWorkerRolledBack(r.error)) {
        const e = r.error!
        const why = new DsuError('DSU_ERR_WORKER_ROLLED_BACK', `worker ${i} ${r.outcome === 'failed' ? 'failed' : 'rolled back'} in ${e.phase}: ${e.code}: ${e.message}`)
        quiesce.fail(why)
        activate.fail(why)
      }
    }))
  }
  return summarize(count, target, strategy, results, olds, skipped, env.now() - t0)
}

function isWorkerRolledBack(error: WireError | undefined): boolean {
  return error?.code === 'DSU_ERR_WORKER_ROLLED_BACK'
}

function summarize(
  count: number,
  target: { version: string },
  strategy: Strategy,
  results: Array<UpgradeResult | null>,
  olds: ProgramProcess[],
  skipped: Set<number>,
  totalMs: number,
): FleetResult {
  const ran = results.filter((r): r is UpgradeResult => r !== null)
  const servingAll = olds.map((old, i) => results[i]?.serving ?? old)
  const workers: WorkerUpgrade[] = olds.map((old, i) => {
    const r = results[i]
    if (!r) {
      return {
        worker: i, outcome: skipped.has(i) ? 'skipped' : 'not-started', from: old.version, to: target.version, pid: old.pid,
        phases: {}, pauseMs: null, totalMs: 0, state: null, connectionsMoved: 0,
      }
    }
    return {
      worker: i, outcome: r.outcome, from: r.from, to: r.to, pid: r.serving.pid, phases: r.phases, pauseMs: r.pauseMs,
      totalMs: r.totalMs, state: r.state, connectionsMoved: r.connectionsMoved, ...(r.error ? { error: r.error } : {}),
    }
  })
  const failed = ran.find((r) => r.outcome === 'failed')
  // The cause, not the workers that rolled back because of it.
  const first = failed ?? ran.find((r) => r.outcome !== 'committed' && !isWorkerRolledBack(r.error)) ?? ran.find((r) => r.outcome !== 'committed')
  const outcome: UpgradeResult['outcome'] = failed ? 'failed' : first ? 'rolled-back' : 'committed'
  const committed = ran.filter((r) => r.outcome === 'committed')
  const phases: Partial<Record<Phase, number>> = {}
  for (const r of ran) {
    for (const [p, ms] of Object.entries(r.phases) as Array<[Phase, number]>) phases[p] = Math.max(phases[p] ?? 0, ms)
  }
  // The longest a client waited: atomic, from the first worker's quiesce to
  // the last one serving; rolling, the longest single worker's pause (the
  // others served meanwhile). Rolled back: the longest worker's pause.
  let pauseMs: number | null = null
  const pauses = ran.map((r) => r.pauseMs).filter((p): p is number => p !== null)
  if (strategy === 'atomic' && outcome === 'committed' && committed.length > 0 && committed.every((r) => typeof r.quiescedAt === 'number' && typeof r.servingAt === 'number')) {
    pauseMs = Math.max(...committed.map((r) => r.servingAt!)) - Math.min(...committed.map((r) => r.quiescedAt!))
  } else if (pauses.length > 0) {
    pauseMs = Math.max(...pauses)
  }
  const state = ran.some((r) => r.state)
    ? ran.reduce((sum, r) => ({ bytes: sum.bytes + (r.state?.bytes ?? 0), records: sum.records + (r.state?.records ?? 0), roots: sum.roots + (r.state?.roots ?? 0) }), { bytes: 0, records: 0, roots: 0 })
    : null
  const index = first ? results.indexOf(first) : -1
  const mixed = strategy === 'rolling' && outcome !== 'committed' && committed.length > 0
  const error = first?.error
    ? { ...first.error, message: `worker ${index}: ${first.error.message}${mixed ? `; workers ${committed.map((r) => results.indexOf(r)).join(', ')} already serve ${target.version}, the others ${first.from}: upgrade again to finish (upgraded workers are skipped)` : ''}` }
    : undefined
  return {
    outcome, strategy, from: olds[0]?.version ?? '', to: target.version, phases, pauseMs, totalMs, state,
    ...(error ? { error } : {}),
    serving: servingAll[0]!, servingAll, workers, mixed,
    connectionsMoved: ran.reduce((n, r) => n + r.connectionsMoved, 0),
  }
}
