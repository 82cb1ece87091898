// counter v1: named counters held as plain numbers.
//   POST /inc/:name  -> the counter's new value
//   GET  /state      -> every counter, as JSON
import http from 'node:http'
import { state } from 'dsu'

const counters = await state('counters', () => new Map())

const server = http.createServer((req, res) => {
  const [, action, name] = req.url.split('/')
  if (req.method === 'POST' && action === 'inc' && name) {
    const value = (counters.get(name) ?? 0) + 1
    counters.set(name, value)
    res.end(JSON.stringify({ name, value, version: 1 }))
  } else if (action === 'state') {
    res.end(JSON.stringify({ version: 1, counters: Object.fromEntries(counters) }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`counter v1 listening on http://127.0.0.1:${server.address().port}`)
})
