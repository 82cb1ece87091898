// Baseline (ii), what users do today: v1 writes its state to a JSON file when
// told to stop; v2, a new process, reads it back, rebuilds the Map and listens.
//   node json-restart.js v1 <file>         (records from $DSU_BENCH_RECORDS; "stop" on stdin)
//   node json-restart.js v2 <file> <port>
import fs from 'node:fs'
import http from 'node:http'
import { makeRecords } from './make-records.js'

const [role, file, port] = process.argv.slice(2)
const serve = (records, listenPort, done) => {
  const server = http.createServer((req, res) => res.end(String(records.size)))
  server.listen(Number(listenPort), '127.0.0.1', () => done(server))
  return server
}

if (role === 'v1') {
  const records = makeRecords(Number(process.env.DSU_BENCH_RECORDS ?? 0))
  const server = serve(records, 0, (s) => console.log(`listening on http://127.0.0.1:${s.address().port}`))
  process.stdin.once('data', () => {
    const t0 = performance.now()
    server.close()
    const rows = []
    for (const [key, r] of records) rows.push([key, { ...r, createdAt: r.createdAt.toISOString(), seen: [...r.seen] }])
    const text = JSON.stringify(rows)
    fs.writeFileSync(file, text)
    console.log(`wrote ${JSON.stringify({ writeMs: performance.now() - t0, bytes: Buffer.byteLength(text) })}`)
    process.exit(0)
  })
} else {
  const t0 = performance.now()
  const rows = JSON.parse(fs.readFileSync(file, 'utf8'))
  const records = new Map()
  for (const [key, r] of rows) records.set(key, { ...r, createdAt: new Date(r.createdAt), seen: new Set(r.seen) })
  const loadMs = performance.now() - t0
  serve(records, port, () => console.log(`loaded ${JSON.stringify({ loadMs, bootMs: t0, records: records.size })} listening`))
  process.on('SIGTERM', () => process.exit(0))
}
