// Pause of the default path (no opt-in: dsu pre-copies the records Map) vs
// stop-and-copy (precopy: false), in pairs of runs interleaved so both meet
// similar machine load. One section of the bench, run on its own:
//   node dist/integration/bench/pause-default.js [records…]   (default 100000 1000000)
// $DSU_BENCH_PAIRS (default 2) pairs of $DSU_BENCH_RUNS (default 3) upgrades per size.
import { fmtCount, fmtMs, median, progress } from './common.js'
import { pauseForSize, type PauseResult } from './pause.js'

const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [100_000, 1_000_000]
const pairs = Number(process.env.DSU_BENCH_PAIRS ?? 2)
const runs = Number(process.env.DSU_BENCH_RUNS ?? 3)
const lines = ['| records | upgrades each | pause, stop-and-copy | pause, default (pre-copy, no opt-in) | default / stop-and-copy | client gap, stop-and-copy / default | transfer phase, default | pre-copy phase, default | client errors |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
for (const n of sizes) {
  const stop: PauseResult[] = []
  const dflt: PauseResult[] = []
  for (let i = 0; i < pairs; i++) {
    stop.push(await pauseForSize(n, runs, false))
    dflt.push(await pauseForSize(n, runs, 'default'))
  }
  const all = (rs: PauseResult[], f: (r: PauseResult) => number[]): number[] => rs.flatMap(f)
  const s = median(all(stop, (r) => r.pauseMs))
  const d = median(all(dflt, (r) => r.pauseMs))
  const errors = [...stop, ...dflt].reduce((a, r) => a + r.clientErrors, 0)
  lines.push(`| ${fmtCount(n)} | ${pairs * runs} | ${fmtMs(s)} | **${fmtMs(d)}** | ${(d / s).toFixed(3)} | ${fmtMs(median(all(stop, (r) => r.clientGapMs)))} / ${fmtMs(median(all(dflt, (r) => r.clientGapMs)))} | ${fmtMs(median(all(dflt, (r) => r.phases.transfer ?? [])))} | ${fmtMs(median(all(dflt, (r) => r.phases.precopy ?? [])))} | ${errors} |`)
  progress(`pause-default ${fmtCount(n)}: stop-and-copy ${all(stop, (r) => r.pauseMs).map((x) => x.toFixed(0)).join(' ')}; default ${all(dflt, (r) => r.pauseMs).map((x) => x.toFixed(0)).join(' ')}`)
}
process.stdout.write(`${lines.join('\n')}\n`)
