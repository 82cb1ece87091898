// fleet app v1: per-host counters behind a load balancer. Each host keeps its
// own counters (dsu is per host); the balancer spreads writes over the hosts.
import http from 'node:http'
import { state } from 'dsu'

const counters = await state('counters', () => new Map())

const server = http.createServer((req, res) => {
  const [, action, name] = req.url.split('/')
  if (req.method === 'POST' && action === 'inc' && name) {
    const value = (counters.get(name) ?? 0) + 1
    counters.set(name, value)
    res.end(JSON.stringify({ name, value, version: 1 }))
  } else if (action === 'state' || action === 'health') {
    res.end(JSON.stringify({ version: 1, counters: Object.fromEntries(counters) }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 8080), process.env.BIND ?? '0.0.0.0', () => {
  console.log(`fleet app v1 listening on ${process.env.BIND ?? '0.0.0.0'}:${server.address().port}`)
})
