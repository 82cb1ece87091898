// Pause and whole-upgrade time vs marked state size, against a stop-the-world
// v8 serialize + deserialize of the same state. A benchmark, not a test:
//   make bench            (or: node dist/integration/bench/pause.js [runs])
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import { execa } from 'execa'
import { cli, root } from '../harness.js'

const runs = Number(process.argv[2] ?? 5)
const sizes = (process.env.DSU_BENCH_SIZES ?? '0,10000,100000').split(',').map(Number)
const entry = path.join(root, 'integration/bench/apps/records.js')
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function upgradeTimes(records: number): Promise<{ pause: number[]; total: number[] }> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-bench-'))
  const sup = execa(process.execPath, [cli, 'run', entry, '--state-dir', stateDir], {
    env: { DSU_BENCH_RECORDS: String(records) }, reject: false, all: true, buffer: false,
  })
  await new Promise<void>((resolve) => {
    sup.all!.on('data', (d: Buffer) => { if (/listening on/.test(String(d))) resolve() })
  })
  const pause: number[] = []
  const total: number[] = []
  for (let i = 0; i < runs; i++) {
    const r = await execa(process.execPath, [cli, 'upgrade', '--to', entry, '--state-dir', stateDir, '--json', '--timeout', '60000'], { reject: false })
    const result = JSON.parse(String(r.stdout))
    if (result.outcome !== 'committed') throw new Error(`upgrade failed: ${r.stdout}`)
    pause.push(result.pauseMs)
    total.push(result.totalMs)
  }
  await execa(process.execPath, [cli, 'stop', '--state-dir', stateDir])
  await sup
  fs.rmSync(stateDir, { recursive: true, force: true })
  return { pause, total }
}

async function stopTheWorld(records: number): Promise<number[]> {
  const { makeRecords } = await import(path.join(root, 'integration/bench/apps/make-records.js'))
  const state = makeRecords(records)
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    v8.deserialize(v8.serialize(state))
    times.push(performance.now() - t0)
  }
  return times
}

console.log(`dsu pause benchmark: ${runs} upgrades per size, node ${process.version}, ${os.cpus().length} cpus`)
console.log('| records | pause median (ms) | upgrade median (ms) | v8 ser+deser median (ms) | pause / v8 |')
console.log('|---:|---:|---:|---:|---:|')
for (const n of sizes) {
  const { pause, total } = await upgradeTimes(n)
  const stw = await stopTheWorld(n)
  const p = median(pause)
  const s = median(stw)
  console.log(`| ${n} | ${p.toFixed(1)} | ${median(total).toFixed(1)} | ${s.toFixed(1)} | ${n ? (p / s).toFixed(2) : '-'} |`)
}
