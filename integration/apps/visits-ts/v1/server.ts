// visits v1, in TypeScript, run by `dsu run ./v1/server.ts` with no flags.
//   POST /visit/:name -> { name, count, version }
//   GET  /state       -> { version, visits, execArgv } (execArgv: the loader dsu chose)
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { state } from 'dsu'

const visits: Map<string, number> = await state('visits', () => new Map<string, number>())

const server = http.createServer((req, res) => {
  const [, action, name] = (req.url ?? '/').split('/')
  if (req.method === 'POST' && action === 'visit' && name) {
    const count: number = (visits.get(name) ?? 0) + 1
    visits.set(name, count)
    res.end(JSON.stringify({ name, count, version: 1 }))
  } else if (action === 'state') {
    res.end(JSON.stringify({ version: 1, visits: Object.fromEntries(visits), execArgv: process.execArgv }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`visits v1 listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
