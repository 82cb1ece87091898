// visits v2, in TypeScript: each count becomes a record { count, upgraded }.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { state } from 'dsu'

interface Visit {
  count: number
  /** Whether the count was carried over from v1. */
  upgraded: boolean
}

const visits: Map<string, Visit> = await state('visits', () => new Map<string, Visit>())

const server = http.createServer((req, res) => {
  const [, action, name] = (req.url ?? '/').split('/')
  if (req.method === 'POST' && action === 'visit' && name) {
    const visit: Visit = visits.get(name) ?? { count: 0, upgraded: false }
    visit.count += 1
    visits.set(name, visit)
    res.end(JSON.stringify({ name, count: visit.count, version: 2 }))
  } else if (action === 'state') {
    res.end(JSON.stringify({ version: 2, visits: Object.fromEntries(visits), execArgv: process.execArgv }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`visits v2 listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
