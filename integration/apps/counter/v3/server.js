// counter v3: the root `counters` is renamed `tallies`.
import http from 'node:http'
import { state } from 'dsu'

const tallies = await state('tallies', () => new Map())

const server = http.createServer((req, res) => {
  const [, action, name] = req.url.split('/')
  if (req.method === 'POST' && action === 'inc' && name) {
    const record = tallies.get(name) ?? { value: 0, updates: 0 }
    record.value += 1
    record.updates += 1
    tallies.set(name, record)
    res.end(JSON.stringify({ name, value: record.value, version: 3 }))
  } else if (action === 'state') {
    const out = {}
    for (const [k, r] of tallies) out[k] = r.value
    res.end(JSON.stringify({ version: 3, counters: out }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`counter v3 listening on http://127.0.0.1:${server.address().port}`)
})
