// fleet app v2: each counter becomes a record { value, updates } (v1 held a number).
import http from 'node:http'
import { state } from 'dsu'

const counters = await state('counters', () => new Map())
const valuesOf = () => Object.fromEntries([...counters].map(([k, r]) => [k, r.value]))

const server = http.createServer((req, res) => {
  const [, action, name] = req.url.split('/')
  if (req.method === 'POST' && action === 'inc' && name) {
    const record = counters.get(name) ?? { value: 0, updates: 0 }
    record.value += 1
    record.updates += 1
    counters.set(name, record)
    res.end(JSON.stringify({ name, value: record.value, version: 2 }))
  } else if (action === 'state' || action === 'health') {
    res.end(JSON.stringify({ version: 2, counters: valuesOf() }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 8080), process.env.BIND ?? '0.0.0.0', () => {
  console.log(`fleet app v2 listening on ${process.env.BIND ?? '0.0.0.0'}:${server.address().port}`)
})
