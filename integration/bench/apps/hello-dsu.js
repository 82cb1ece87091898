// The same app as hello-plain.js, with its state marked through dsu.
import http from 'node:http'
import { state } from 'dsu'

const hits = await state('hits', () => new Map())
const server = http.createServer((req, res) => {
  hits.set(req.url, (hits.get(req.url) ?? 0) + 1)
  res.end('hello\n')
})
server.listen(0, '127.0.0.1', () => console.log(`hello listening on http://127.0.0.1:${server.address().port}`))
