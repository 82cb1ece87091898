// `dsu run --workers N` numbers, in one run (a benchmark, not a test):
//   node dist/integration/bench/workers.js
// 1. Throughput: req/s of the sharded-kv fixture (GET /, keep-alive, autocannon
//    in this process) with 1 worker, then 2 workers. autocannon shares the
//    machine's cores with the workers, so this is what one box gives, not a
//    ceiling per worker.
// 2. Pause per strategy (atomic, rolling) at 0 and 100k records per worker:
//    the longest any client waits (atomic: first quiesce to last serving, no
//    worker serves in between; rolling: the longest single worker's pause,
//    while the other worker serves, so the service as a whole never pauses)
//    and each worker's own pause, median of $DSU_BENCH_RUNS upgrades (3).
// Markdown goes to stdout; progress to stderr.
import os from 'node:os'
import autocannon from 'autocannon'
import { dsu, fixture, runSupervised } from '../harness.js'

const RUNS = Number(process.env.DSU_BENCH_RUNS ?? 3)
const SECONDS = Number(process.env.DSU_BENCH_SECONDS ?? 8)
const log = (line: string): void => void process.stderr.write(line + '\n')
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function throughput(workers: number): Promise<number> {
  const sup = await runSupervised(fixture('sharded-kv.js'), ['--workers', String(workers)])
  try {
    await sup.waitForOutput(/running .*control socket/)
    const result = await autocannon({ url: `http://127.0.0.1:${sup.port}/`, connections: 32, duration: SECONDS, pipelining: 1 })
    if (result.errors || result.non2xx) throw new Error(`${result.errors} errors, ${result.non2xx} non-2xx`)
    return result.requests.average
  } finally {
    await sup.stop()
  }
}

interface PauseRow { strategy: string; records: number; fleet: number; perWorker: number[] }

async function pauses(records: number): Promise<PauseRow[]> {
  const sup = await runSupervised(fixture('sharded-kv.js'), ['--workers', '2', '--version-label', '1', '--timeout', '60s'], { DSU_TEST_RECORDS: String(records) })
  const rows: PauseRow[] = []
  try {
    await sup.waitForOutput(/running .*control socket/)
    let version = 1
    for (const strategy of ['atomic', 'rolling']) {
      const fleet: number[] = []
      const perWorker: number[][] = [[], []]
      for (let i = 0; i < RUNS; i++) {
        const r = await dsu(['upgrade', '--to', fixture('sharded-kv.js'), '--version-label', String(++version), '--strategy', strategy, '--json', '--state-dir', sup.stateDir])
        const out = JSON.parse(r.stdout)
        if (out.outcome !== 'committed') throw new Error(`${strategy} upgrade: ${r.stdout}${r.stderr}`)
        fleet.push(out.pauseMs)
        for (const w of out.workers) perWorker[w.worker]!.push(w.pauseMs)
        log(`  ${records} records, ${strategy}: pause ${out.pauseMs.toFixed(1)} ms (workers ${out.workers.map((w: { pauseMs: number }) => w.pauseMs.toFixed(1)).join(', ')})`)
      }
      rows.push({ strategy, records, fleet: median(fleet), perWorker: perWorker.map(median) })
    }
  } finally {
    await sup.stop()
  }
  return rows
}

const load = os.loadavg()[0]!.toFixed(1)
log('throughput, 1 worker then 2 workers')
const one = await throughput(1)
const two = await throughput(2)
log(`  1 worker ${one.toFixed(0)} req/s, 2 workers ${two.toFixed(0)} req/s`)
const rows: PauseRow[] = []
for (const records of [0, 100_000]) rows.push(...await pauses(records))

process.stdout.write([
  `## --workers (${new Date().toISOString()}, ${os.availableParallelism()} cores, load average ${load} at start; ${SECONDS} s autocannon, 32 connections, GET /)`,
  '',
  '| workers | req/s |',
  '|---|---|',
  `| 1 | ${one.toFixed(0)} |`,
  `| 2 | ${two.toFixed(0)} (×${(two / one).toFixed(2)}) |`,
  '',
  `Pause with 2 workers, median of ${RUNS} upgrades:`,
  '',
  '| strategy | records per worker | longest client wait | worker 0 pause | worker 1 pause |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.strategy} | ${r.records} | ${r.fleet.toFixed(1)} ms | ${r.perWorker[0]!.toFixed(1)} ms | ${r.perWorker[1]!.toFixed(1)} ms |`),
  '',
  'atomic: no worker serves from the first quiesce to the last commit (the whole service pauses that long). rolling: one worker pauses at a time while the other serves, so the service as a whole never pauses; a client on the paused worker waits its pause.',
  '',
].join('\n'))
