// The benchmark suite: pause vs state size (with baselines on the same state),
// steady-state overhead and memory, all from one run. A benchmark, not a test:
//   make bench                                   (node dist/integration/bench/main.js)
//   DSU_BENCH_QUICK=1 node dist/integration/bench/main.js   (smoke run, < 1 min)
//   DSU_BENCH_ONLY=precopy DSU_BENCH_SIZES=1000000 DSU_BENCH_RUNS=3 node dist/integration/bench/main.js
//     (only the default-path pause rows of the sizes given, printed, RESULTS.md untouched)
// Progress goes to stderr; the markdown goes to stdout and integration/bench/RESULTS.md,
// the chart to integration/bench/pause.svg.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { baselinesForSize, type BaselineResult } from './baselines.js'
import { cliLatency } from './cli-latency.js'
import { benchApp, benchDir, elapsedS, fmtCount, fmtMs, median, progress, quick } from './common.js'
import { idleMemory, peakMemory } from './memory.js'
import { overhead } from './overhead.js'
import { pauseForSize, type PauseResult } from './pause.js'
import { markdown, pauseChart, sectionOf, type Results } from './report.js'

const sizes = process.env.DSU_BENCH_SIZES ? process.env.DSU_BENCH_SIZES.split(',').map(Number) : quick ? [0, 10_000] : [0, 10_000, 100_000, 1_000_000]
// Upgrades per size, and runs of each baseline (the JSON restart at 1M takes ~6 s a run).
const pauseRuns = process.env.DSU_BENCH_RUNS ? Number(process.env.DSU_BENCH_RUNS) : quick ? 1 : 5
const baselineRuns = (records: number): number => (quick ? 1 : records >= 1_000_000 ? 3 : 5)

const startedAt = new Date().toISOString()
const loadBefore = os.loadavg()
progress(`dsu benchmark${quick ? ' (quick)' : ''}: sizes ${sizes.map(fmtCount).join(', ')}`)

if (process.env.DSU_BENCH_ONLY === 'precopy') {
  // A quick look at one part while working on it: nothing is written.
  for (const n of sizes) {
    const p = await pauseForSize(n, pauseRuns, 'default')
    const med = (xs: number[]): string => fmtMs(median(xs.filter(Number.isFinite)))
    process.stdout.write(`${fmtCount(n)}: pause ${med(p.pauseMs)} ms, client gap ${med(p.clientGapMs)} ms, during pre-copy ${med(p.precopyGapMs)} ms, ` +
      `pre-copy phase ${med(p.phases.precopy ?? [])} ms, whole upgrade ${med(p.totalMs)} ms (medians of ${p.pauseMs.length}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})\n`)
  }
  process.exit(0)
}

const pause: PauseResult[] = []
const precopy: PauseResult[] = []
const baselines: BaselineResult[] = []
for (const n of sizes) {
  pause.push(await pauseForSize(n, pauseRuns))
  precopy.push(await pauseForSize(n, pauseRuns, 'default')) // no opt-in: pre-copied by default
  baselines.push(await baselinesForSize(n, baselineRuns(n)))
}
// The same records as registered class instances, against plain objects run
// right before them, pairwise so both meet similar machine load: stop-and-copy
// and the default path (pre-copy, as dsu picks it for this Map).
const classSize = quick ? 10_000 : 100_000
const classes: PauseResult[] = []
const plainPaired: PauseResult[] = []
const classesDefault: PauseResult[] = []
const plainDefault: PauseResult[] = []
// Issue 13, target 3: the same plain default-path runs against one addField
// rule (its per-entry rule runs on pre-copied entries as they arrive).
const addField: PauseResult[] = []
for (let i = 0; i < (quick ? 1 : 3); i++) {
  plainPaired.push(await pauseForSize(classSize, pauseRuns))
  classes.push(await pauseForSize(classSize, pauseRuns, false, true))
  plainDefault.push(await pauseForSize(classSize, pauseRuns, 'default'))
  classesDefault.push(await pauseForSize(classSize, pauseRuns, 'default', true))
  addField.push(await pauseForSize(classSize, pauseRuns, 'default', false, benchApp('add-field.transform.js')))
}
const over = quick ? await overhead(1, 2) : await overhead(10, 5)
const idle = await idleMemory(quick ? 1 : 3)
const peak = await peakMemory(sizes.at(-1)!)
const cli = await cliLatency(quick ? 3 : 15)

const results: Results = {
  startedAt, durationS: elapsedS(), quick,
  machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? '?', loadBefore, loadAfter: os.loadavg(), tmpdir: os.tmpdir() },
  pause, precopy, baselines, overhead: over, idle, peak, cli,
  classes: { records: classSize, plain: plainPaired, classes, plainDefault, classesDefault },
  addField,
}
const md = markdown(results)
// The soak section (`make soak`) is not part of this run: keep it as it was.
const resultsFile = path.join(benchDir, 'RESULTS.md')
const soak = fs.existsSync(resultsFile) ? sectionOf(fs.readFileSync(resultsFile, 'utf8'), 'soak') : ''
fs.writeFileSync(resultsFile, soak ? `${md.trimEnd()}

${soak}` : md)
fs.writeFileSync(path.join(benchDir, 'pause.svg'), pauseChart(results))
progress(`done: wrote ${path.relative(process.cwd(), path.join(benchDir, 'RESULTS.md'))} and pause.svg`)
process.stdout.write(md)
