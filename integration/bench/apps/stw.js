// Baseline (i), naive stop-the-world: the whole state through v8.serialize then
// v8.deserialize in one process. Prints one JSON line.
//   node stw.js <records> <runs>
import v8 from 'node:v8'
import { makeRecords } from './make-records.js'

const [records, runs] = process.argv.slice(2).map(Number)
const state = makeRecords(records)
const out = { records, bytes: 0, serMs: [], deserMs: [], totalMs: [] }
for (let i = 0; i < runs; i++) {
  const t0 = performance.now()
  const bytes = v8.serialize(state)
  const t1 = performance.now()
  const copy = v8.deserialize(bytes)
  const t2 = performance.now()
  if (copy.size !== state.size) throw new Error('deserialized a different state')
  out.bytes = bytes.length
  out.serMs.push(t1 - t0)
  out.deserMs.push(t2 - t1)
  out.totalMs.push(t2 - t0)
}
process.stdout.write(JSON.stringify(out) + '\n')
