// counter v2: each counter becomes a record { value, updates } (v1 held a number).
import http from 'node:http'
import { state } from 'dsu'

const counters = await state('counters', () => new Map())

const server = http.createServer((req, res) => {
  const [, action, name] = req.url.split('/')
  if (req.method === 'POST' && action === 'inc' && name) {
    const record = counters.get(name) ?? { value: 0, updates: 0 }
    record.value += 1
    record.updates += 1
    counters.set(name, record)
    res.end(JSON.stringify({ name, value: record.value, version: 2 }))
  } else if (action === 'state') {
    const out = {}
    for (const [k, r] of counters) out[k] = r.value
    res.end(JSON.stringify({ version: 2, counters: out }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`counter v2 listening on http://127.0.0.1:${server.address().port}`)
})
