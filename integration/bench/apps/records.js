// Benchmark program: marks a Map of $DSU_BENCH_RECORDS small records of the
// shape in the issue ({id, name, balance, tags[3], createdAt, seen: Set}),
// pre-copied as dsu decides by default, always with $DSU_BENCH_PRECOPY=1,
// never (stop-and-copy) with $DSU_BENCH_PRECOPY=0; held as registered
// BenchRecord instances instead of plain objects when $DSU_BENCH_CLASSES is.
import http from 'node:http'
import { registerClass, state } from 'dsu'
import { BenchRecord, makeRecords } from './make-records.js'

const n = Number(process.env.DSU_BENCH_RECORDS ?? 0)
const classes = Boolean(process.env.DSU_BENCH_CLASSES)
if (classes) registerClass(BenchRecord)
const records = await state('records', () => makeRecords(n, classes), process.env.DSU_BENCH_PRECOPY === undefined ? {} : { precopy: process.env.DSU_BENCH_PRECOPY === '1' })
const server = http.createServer((req, res) => {
  if (req.method === 'POST') {
    const id = `r${Math.floor(Math.random() * Math.max(1, records.size))}`
    const r = records.get(id)
    if (r) r.balance += 1
  }
  res.end(String(records.size))
})
server.listen(0, '127.0.0.1', () => console.log(`records listening on http://127.0.0.1:${server.address().port}`))
