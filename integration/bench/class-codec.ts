// Codec cost of registered class instances vs plain objects, in one process:
// encode (validation walk + v8 serialize, chunked as in a real transfer) and
// decode (v8 deserialize + revival) of a Map of N records of the bench shape.
// A quick number for the README; `make bench` measures the real pause.
//   node dist/integration/bench/class-codec.js [records] [runs]
import { encodeRoots, StateDecoder } from '../../runtime/transfer/state-codec.js'
import { clearRegistry, registerClass } from '../../runtime/transfer/registry.js'
import { pathToFileURL } from 'node:url'
import { benchApp, median } from './common.js'

// The bench apps are plain JavaScript run from the source tree.
const { BenchRecord, makeRecords } = (await import(pathToFileURL(benchApp('make-records.js')).href)) as {
  BenchRecord: new () => object
  makeRecords: (count: number, asClass?: boolean) => Map<string, unknown>
}

const n = Number(process.argv[2] ?? 100_000)
const runs = Number(process.argv[3] ?? 15)

// CPU time besides wall time: on a shared machine, time spent waiting for a
// core counts in wall time but not here, so the ratio is steadier.
const cpuMs = (): number => {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1000
}

function once(roots: Map<string, unknown>): { encodeMs: number; decodeMs: number; cpuMs: number; bytes: number } {
  const c0 = cpuMs()
  const t0 = performance.now()
  const frames = [...encodeRoots(roots)]
  const t1 = performance.now()
  const decoder = new StateDecoder()
  for (const frame of frames) decoder.push(frame)
  decoder.finish()
  const t2 = performance.now()
  return { encodeMs: t1 - t0, decodeMs: t2 - t1, cpuMs: cpuMs() - c0, bytes: frames.reduce((a, f) => a + f.length, 0) }
}

interface Measured { encodeMs: number; decodeMs: number; totalMs: number; minMs: number; cpuMs: number; bytes: number }

function measure(asClass: boolean): Measured {
  clearRegistry()
  if (asClass) registerClass(BenchRecord)
  const roots = new Map<string, unknown>([['records', makeRecords(n, asClass)]])
  for (let i = 0; i < 3; i++) once(roots) // warm up
  const all = Array.from({ length: runs }, () => once(roots))
  return {
    encodeMs: median(all.map((r) => r.encodeMs)),
    decodeMs: median(all.map((r) => r.decodeMs)),
    totalMs: median(all.map((r) => r.encodeMs + r.decodeMs)),
    minMs: Math.min(...all.map((r) => r.encodeMs + r.decodeMs)),
    cpuMs: median(all.map((r) => r.cpuMs)),
    bytes: all[0]!.bytes,
  }
}

// Interleaved, so load from other processes on the machine hits both alike.
const plain: Measured[] = []
const classes: Measured[] = []
for (let round = 0; round < 3; round++) {
  plain.push(measure(false))
  classes.push(measure(true))
}
const pick = (xs: Measured[], key: 'encodeMs' | 'decodeMs' | 'totalMs' | 'cpuMs'): number => median(xs.map((x) => x[key]))
const best = (xs: Measured[]): number => Math.min(...xs.map((x) => x.minMs))
const row = (label: string, xs: Measured[]): string =>
  `| ${label} | ${pick(xs, 'encodeMs').toFixed(1)} | ${pick(xs, 'decodeMs').toFixed(1)} | ${pick(xs, 'totalMs').toFixed(1)} | ${best(xs).toFixed(1)} | ${(xs[0]!.bytes / 1e6).toFixed(2)} MB |`
process.stdout.write([
  `${n} records, median of ${runs} runs × 3 rounds, Node ${process.version}`,
  '| records as | encode ms | decode ms | total ms | best total ms | bytes |',
  '|---|---|---|---|---|---|',
  row('plain objects', plain),
  row('registered class instances', classes),
  `class / plain: median ${(pick(classes, 'totalMs') / pick(plain, 'totalMs')).toFixed(3)}, best ${(best(classes) / best(plain)).toFixed(3)}, CPU time ${(pick(classes, 'cpuMs') / pick(plain, 'cpuMs')).toFixed(3)} (${pick(classes, 'cpuMs').toFixed(1)} / ${pick(plain, 'cpuMs').toFixed(1)} ms)`,
  '',
].join('\n'))
