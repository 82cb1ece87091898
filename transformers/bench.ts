// Compares a compiled DSL rule with the hand-written loop doing the same work,
// over a Map of 1M records: add a field to every value, and convert one field
// (float balance → integer cents, renamed). Median of 5 runs each; the state
// is rebuilt before every run, outside the timing.
//
//   node dist/transformers/bench.js [entries]

import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { addField, convert, transformer } from './index.js'

type Customer = { name: string; balance: number; accesses?: number; cents?: number }

const N = Number(process.argv[2] ?? 1_000_000)
const RUNS = 5
const versions = { from: '1.0.0', to: '2.0.0' }

function state(): Map<string, Customer> {
  const m = new Map<string, Customer>()
  for (let i = 0; i < N; i++) m.set(`c${i}`, { name: `customer ${i}`, balance: i / 100 })
  return m
}

// A full collection before each timed run, so one run does not pay for the
// garbage of building the previous state (the usual source of noise here).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

type Run = (m: Map<string, Customer>) => unknown

async function time(run: Run): Promise<number> {
  const m = state()
  gc()
  const t0 = performance.now()
  await run(m)
  return performance.now() - t0
}

// Runs alternate between the two, so drift (heap growth, CPU frequency) hits both alike.
async function medians(a: Run, b: Run): Promise<[number, number]> {
  const ta: number[] = []
  const tb: number[] = []
  for (let i = 0; i < RUNS; i++) {
    ta.push(await time(a))
    tb.push(await time(b))
  }
  const mid = (t: number[]) => t.sort((x, y) => x - y)[RUNS >> 1]!
  return [mid(ta), mid(tb)]
}

const addDsl = transformer({ from: '1.0.0', to: '2.0.0', rules: [addField('customers.*', 'accesses', 0)] })
const convertDsl = transformer({
  from: '1.0.0',
  to: '2.0.0',
  rules: [convert('customers.*.balance', (b: number) => Math.round(b * 100), { to: 'cents', expect: 'number' })],
})

const cases: Array<[string, (m: Map<string, Customer>) => unknown, (m: Map<string, Customer>) => unknown]> = [
  [
    'add a field',
    (m) => addDsl({ customers: m }, versions),
    (m) => {
      for (const c of m.values()) c.accesses = 0
    },
  ],
  [
    'convert + rename a field',
    (m) => convertDsl({ customers: m }, versions),
    (m) => {
      for (const c of m.values()) {
        if (typeof c.balance !== 'number') throw new TypeError('balance')
        c.cents = Math.round(c.balance * 100)
        delete (c as Partial<Customer>).balance
      }
    },
  ],
]

console.log(`${N} entries, median of ${RUNS} runs`)
for (const [name, dsl, hand] of cases) {
  const [handMs, dslMs] = await medians(hand, dsl)
  console.log(`${name.padEnd(26)} hand-written ${handMs.toFixed(1).padStart(7)} ms   DSL ${dslMs.toFixed(1).padStart(7)} ms   ratio ${(dslMs / handMs).toFixed(2)}`)
}
