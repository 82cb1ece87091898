// The class-instance row of `make bench` alone: pause at N records held as
// registered class instances vs the same records as plain objects, pairs of
// runs interleaved so both meet similar machine load. For tuning the class
// codec without running the whole suite.
//   node dist/integration/bench/class-row.js [records] [pairs] [upgrades per run]
import { median } from './common.js'
import { pauseForSize, type PauseResult } from './pause.js'

const n = Number(process.argv[2] ?? 100_000)
const pairs = Number(process.argv[3] ?? 3)
const runs = Number(process.argv[4] ?? 5)

const plain: PauseResult[] = []
const classes: PauseResult[] = []
for (let i = 0; i < pairs; i++) {
  plain.push(await pauseForSize(n, runs))
  classes.push(await pauseForSize(n, runs, false, true))
}
// Same statistic as the RESULTS.md row: the median pause over all upgrades.
const all = (rs: PauseResult[]): number[] => rs.flatMap((r) => r.pauseMs)
const p = median(all(plain))
const c = median(all(classes))
const perPair = plain.map((r, i) => (median(classes[i]!.pauseMs) / median(r.pauseMs)).toFixed(3)).join(', ')
process.stdout.write(`${n} records, ${pairs} pairs × ${runs} upgrades: plain ${p.toFixed(1)} ms, classes ${c.toFixed(1)} ms, class / plain ${(c / p).toFixed(3)} (per pair: ${perPair})\n`)
