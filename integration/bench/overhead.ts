// Steady-state overhead: the records app with 0 records under `node` (A) and
// under `dsu run` (B), both started up front, loaded in turn A B A B … with the
// same bounded autocannon load.
import { runSupervised } from '../harness.js'
import { benchApp, median, percentile, progress, startLoad, startPlain } from './common.js'

export interface OverheadResult {
  seconds: number
  connections: number
  plain: { rps: number[]; p99: number[] }
  dsu: { rps: number[]; p99: number[] }
}

export async function overhead(rounds: number, seconds: number, connections = 10): Promise<OverheadResult> {
  const entry = benchApp('records.js')
  const env = { DSU_BENCH_RECORDS: '0' }
  const plain = await startPlain([entry], env)
  const sup = await runSupervised(entry, [], env)
  const out: OverheadResult = { seconds, connections, plain: { rps: [], p99: [] }, dsu: { rps: [], p99: [] } }
  try {
    progress('overhead: warm-up of both servers')
    for (const port of [plain.port, sup.port]) await startLoad(port, 1, connections).done
    for (let i = 0; i < rounds; i++) {
      for (const [name, port] of [['plain', plain.port], ['dsu', sup.port]] as const) {
        const load = startLoad(port, seconds, connections)
        const r = await load.done
        const p99 = percentile(load.latencies, 99)
        out[name].rps.push(r.requests.average)
        out[name].p99.push(p99)
        progress(`overhead: round ${i + 1}/${rounds} ${name === 'plain' ? 'node    ' : 'dsu run '}: ${r.requests.average.toFixed(0)} req/s, p99 ${p99.toFixed(3)} ms`)
      }
    }
  } finally {
    await plain.stop()
    await sup.stop()
  }
  return out
}

export function overheadRatios(r: OverheadResult): { rpsLoss: number; p99Gain: number } {
  return {
    rpsLoss: 1 - median(r.dsu.rps) / median(r.plain.rps),
    p99Gain: median(r.dsu.p99) / median(r.plain.p99) - 1,
  }
}
