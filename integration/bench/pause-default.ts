// Pause of the default path (no opt-in: dsu pre-copies the records Map) vs
// stop-and-copy (precopy: false), in pairs of runs interleaved so both meet
// similar machine load. One section of the bench, run on its own:
//   node dist/integration/bench/pause-default.js [records…]   (default 100000 1000000)
// $DSU_BENCH_PAIRS (default 2) pairs of $DSU_BENCH_RUNS (default 3) upgrades per size.
// With $DSU_BENCH_TRANSFORMER=1 it compares instead the default path without a
// transformer and with one addField rule (apps/add-field.transform.js).
import { benchApp, fmtCount, fmtMs, median, progress } from './common.js'
import { pauseForSize, type PauseResult } from './pause.js'

const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [100_000, 1_000_000]
const pairs = Number(process.env.DSU_BENCH_PAIRS ?? 2)
const runs = Number(process.env.DSU_BENCH_RUNS ?? 3)
const withRule = process.env.DSU_BENCH_TRANSFORMER === '1'
const [a, b] = withRule ? ['default, no transformer', 'default, addField'] : ['stop-and-copy', 'default (pre-copy, no opt-in)']
const lines = [`| records | upgrades each | pause, ${a} | pause, ${b} | ratio | client gap | transfer phase | transform phase | pre-copy phase, ${b} | client errors |`, '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
for (const n of sizes) {
  const stop: PauseResult[] = []
  const dflt: PauseResult[] = []
  for (let i = 0; i < pairs; i++) {
    stop.push(await pauseForSize(n, runs, withRule ? 'default' : false))
    dflt.push(await pauseForSize(n, runs, 'default', false, withRule ? benchApp('add-field.transform.js') : undefined))
  }
  const all = (rs: PauseResult[], f: (r: PauseResult) => number[]): number[] => rs.flatMap(f)
  const s = median(all(stop, (r) => r.pauseMs))
  const d = median(all(dflt, (r) => r.pauseMs))
  const errors = [...stop, ...dflt].reduce((a, r) => a + r.clientErrors, 0)
  const both = (f: (r: PauseResult) => number[]): string => `${fmtMs(median(all(stop, f)))} / ${fmtMs(median(all(dflt, f)))}`
  lines.push(`| ${fmtCount(n)} | ${pairs * runs} | ${fmtMs(s)} | **${fmtMs(d)}** | ${(d / s).toFixed(3)} | ${both((r) => r.clientGapMs)} | ${both((r) => r.phases.transfer ?? [])} | ${both((r) => r.phases.transform ?? [])} | ${fmtMs(median(all(dflt, (r) => r.phases.precopy ?? [])))} | ${errors} |`)
  progress(`pause-default ${fmtCount(n)}: ${a} ${all(stop, (r) => r.pauseMs).map((x) => x.toFixed(0)).join(' ')}; ${b} ${all(dflt, (r) => r.pauseMs).map((x) => x.toFixed(0)).join(' ')}`)
}
process.stdout.write(`${lines.join('\n')}\n`)
