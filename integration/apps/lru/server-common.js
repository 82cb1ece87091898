// The LRU app's server, shared by its versions: POST /op applies the next
// operation (two sets, then a get, over 300 keys into a 200-entry cache, so
// recency changes and entries are evicted) and appends it to a log root. GET
// /verify replays the log into a fresh cache and compares keys, order and
// values with the carried one: any change the transfer made to contents or
// recency shows.
import http from 'node:http'
import { LRUCache } from 'lru-cache'
import { state } from 'dsu'
import { OPTIONS } from './cache-codec.js'

export async function serve(version) {
  const cache = await state('cache', () => new LRUCache(OPTIONS))
  const log = await state('log', () => [])
  const server = http.createServer((req, res) => {
    const [, action] = req.url.split('/')
    if (req.method === 'POST' && action === 'op') {
      const seq = log.length
      const key = `k${(seq * 7919) % 300}`
      if (seq % 3 === 2) {
        cache.get(key)
        log.push(['get', key])
      } else {
        cache.set(key, { seq, by: version })
        log.push(['set', key, seq])
      }
      res.end(JSON.stringify({ version, seq }))
    } else if (action === 'verify') {
      const replay = new LRUCache(OPTIONS)
      for (const [op, key, seq] of log) {
        if (op === 'get') replay.get(key)
        else replay.set(key, { seq })
      }
      const carried = [...cache.entries()].map(([k, v]) => [k, v.seq])
      const expected = [...replay.entries()].map(([k, v]) => [k, v.seq])
      res.end(JSON.stringify({ version, ops: log.length, isCache: cache instanceof LRUCache, size: cache.size, same: JSON.stringify(carried) === JSON.stringify(expected) }))
    } else {
      res.statusCode = 404
      res.end('not found\n')
    }
  })
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    console.log(`lru v${version} listening on http://127.0.0.1:${server.address().port}`)
  })
}
