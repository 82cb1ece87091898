// Steady-state overhead: the records app with 0 records under `node` (A) and
// under `dsu run` (B), both started up front, loaded in turn A B A B … with the
// same bounded autocannon load. Besides req/s and p99 it counts the CPU time
// the serving process spent per request: on a shared machine throughput
// follows whoever else runs, CPU per request much less.
import { runSupervised } from '../harness.js'
import { benchApp, dsuJson, median, percentile, procCpuMs, progress, startLoad, startPlain } from './common.js'

export interface OverheadResult {
  seconds: number
  connections: number
  plain: { rps: number[]; p99: number[]; cpuUs: number[] }
  dsu: { rps: number[]; p99: number[]; cpuUs: number[] }
}

export async function overhead(rounds: number, seconds: number, connections = 10): Promise<OverheadResult> {
  const entry = benchApp('records.js')
  const env = { DSU_BENCH_RECORDS: '0' }
  // Detached like dsu's program (its own session): otherwise the load
  // generator and plain node share a scheduling group (autogroup) that the
  // dsu program does not, and the comparison measures the scheduler.
  const plain = await startPlain([entry], env, true)
  const sup = await runSupervised(entry, [], env)
  const out: OverheadResult = { seconds, connections, plain: { rps: [], p99: [], cpuUs: [] }, dsu: { rps: [], p99: [], cpuUs: [] } }
  try {
    // The program process under dsu run (not the supervisor) serves the requests.
    const pids = { plain: plain.pid, dsu: (await dsuJson(['status', '--state-dir', sup.stateDir])).pid as number }
    progress('overhead: warm-up of both servers')
    for (const port of [plain.port, sup.port]) await startLoad(port, 1, connections).done
    for (let i = 0; i < rounds; i++) {
      for (const [name, port] of [['plain', plain.port], ['dsu', sup.port]] as const) {
        const cpuBefore = procCpuMs(pids[name])
        const load = startLoad(port, seconds, connections)
        const r = await load.done
        const p99 = percentile(load.latencies, 99)
        const cpuUs = ((procCpuMs(pids[name]) - cpuBefore) * 1000) / r.requests.total
        out[name].rps.push(r.requests.average)
        out[name].p99.push(p99)
        out[name].cpuUs.push(cpuUs)
        progress(`overhead: round ${i + 1}/${rounds} ${name === 'plain' ? 'node    ' : 'dsu run '}: ${r.requests.average.toFixed(0)} req/s, p99 ${p99.toFixed(3)} ms, ${cpuUs.toFixed(1)} µs CPU/request`)
      }
    }
  } finally {
    await plain.stop()
    await sup.stop()
  }
  return out
}

/** Median of the per-round ratios dsu / node (rounds are interleaved, so each pair met similar load). */
export function pairedRatio(dsu: number[], plain: number[]): number {
  return median(dsu.map((x, i) => x / plain[i]!))
}

/** The targets' measure: medians of the per-round ratios. */
export function overheadRatios(r: OverheadResult): { rpsLoss: number; p99Gain: number; cpuGain: number } {
  return {
    rpsLoss: 1 - pairedRatio(r.dsu.rps, r.plain.rps),
    p99Gain: pairedRatio(r.dsu.p99, r.plain.p99) - 1,
    cpuGain: pairedRatio(r.dsu.cpuUs, r.plain.cpuUs) - 1,
  }
}
