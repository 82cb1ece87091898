// The class-instance rows of `make bench` alone: pause at N records held as
// registered class instances vs the same records as plain objects, in
// stop-and-copy ($DSU_BENCH_PRECOPY=0) and on the default path (pre-copy, as
// dsu picks it for a Map of 1000+ entries), runs interleaved (plain, class,
// plain, class per mode) so both meet similar machine load. For tuning the
// class codec without running the whole suite.
//   node dist/integration/bench/class-row.js [records] [pairs] [upgrades per run] [modes: stop,default]
import os from 'node:os'
import { median } from './common.js'
import { pauseForSize, type PauseResult } from './pause.js'

const n = Number(process.argv[2] ?? 100_000)
const pairs = Number(process.argv[3] ?? 3)
const runs = Number(process.argv[4] ?? 5)
const modes = (process.argv[5] ?? 'stop,default').split(',') as Array<'stop' | 'default'>

const load = os.loadavg().map((x) => x.toFixed(2)).join(' ')
const results = new Map(modes.map((m) => [m, { plain: [] as PauseResult[], classes: [] as PauseResult[] }]))
for (let i = 0; i < pairs; i++) {
  for (const mode of modes) {
    const precopy = mode === 'default' ? 'default' : false
    results.get(mode)!.plain.push(await pauseForSize(n, runs, precopy))
    results.get(mode)!.classes.push(await pauseForSize(n, runs, precopy, true))
  }
}
// Same statistic as the RESULTS.md row: the median pause over all upgrades.
const all = (rs: PauseResult[], key = 'pause'): number[] => rs.flatMap((r) => (key === 'pause' ? r.pauseMs : r.phases[key] ?? []))
for (const [mode, { plain, classes }] of results) {
  const p = median(all(plain))
  const c = median(all(classes))
  const perPair = plain.map((r, i) => (median(classes[i]!.pauseMs) / median(r.pauseMs)).toFixed(3)).join(', ')
  const phases = ['precopy', 'transfer'].map((k) => `${k} ${median(all(plain, k)).toFixed(0)} / ${median(all(classes, k)).toFixed(0)}`).join(', ')
  process.stdout.write(`${mode === 'stop' ? 'stop-and-copy' : 'default (pre-copy)'}: ${n} records, ${pairs} pairs × ${runs} upgrades: plain ${p.toFixed(1)} ms, classes ${c.toFixed(1)} ms, class / plain ${(c / p).toFixed(3)} (per pair: ${perPair}; phases plain / class ms: ${phases})\n`)
}
process.stdout.write(`load average ${load} before, ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} after\n`)
