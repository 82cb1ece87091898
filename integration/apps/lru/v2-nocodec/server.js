// lru v2 that forgot its codec: refused in pre-flight (DSU_ERR_TYPE_MISSING)
// before v1 pauses.
import http from 'node:http'
import { state } from 'dsu'

const cache = await state('cache', () => new Map())
const log = await state('log', () => [])
const server = http.createServer((req, res) => res.end(JSON.stringify({ version: 2, size: cache.size, ops: log.length })))
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`lru v2-nocodec listening on http://127.0.0.1:${server.address().port}`)
})
