// Memory baseline: the smallest HTTP app, without dsu.
import http from 'node:http'

const hits = new Map()
const server = http.createServer((req, res) => {
  hits.set(req.url, (hits.get(req.url) ?? 0) + 1)
  res.end('hello\n')
})
server.listen(0, '127.0.0.1', () => console.log(`hello listening on http://127.0.0.1:${server.address().port}`))
