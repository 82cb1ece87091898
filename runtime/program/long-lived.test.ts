// Which responses count as long-lived: text/event-stream however its headers
// were set, and responses the program marks; nothing else.
import http from 'node:http'
import t from 'tap'
import { request } from 'undici'
import { endLongLived, handOverOf, isLongLived, longLived, LongLivedStream } from './long-lived.js'

const cases: Array<{ name: string; respond: (res: http.ServerResponse) => void; expected: boolean }> = [
  { name: 'setHeader text/event-stream', respond: (res) => { res.setHeader('Content-Type', 'text/event-stream; charset=utf-8'); res.write(':\n\n') }, expected: true },
  { name: 'writeHead with a headers object', respond: (res) => { res.writeHead(200, { 'Content-Type': 'text/event-stream' }); res.write(':\n\n') }, expected: true },
  { name: 'writeHead with a raw header array', respond: (res) => { res.writeHead(200, ['content-type', 'text/event-stream']); res.write(':\n\n') }, expected: true },
  { name: 'marked with longLived()', respond: (res) => { longLived(res); res.setHeader('Content-Type', 'application/json'); res.write('[') }, expected: true },
  { name: 'a plain streaming response', respond: (res) => { res.setHeader('Content-Type', 'text/plain'); res.write('a') }, expected: false },
  { name: 'a response with no headers yet', respond: () => {}, expected: false },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    let seen: boolean | undefined
    const server = http.createServer((_req, res) => {
      c.respond(res)
      seen = isLongLived(res)
      if (!res.headersSent) res.write('x')
      endLongLived(res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const { port } = server.address() as { port: number }
    const res = await request(`http://127.0.0.1:${port}/`)
    await res.body.text()
    t.equal(seen, c.expected)
  })
}

t.test('a marked response is ended by the program\'s own end function', async (t) => {
  const server = http.createServer((_req, res) => {
    longLived(res, (r) => r.end('ask again'))
    res.write('waiting;')
    endLongLived(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as { port: number }
  const res = await request(`http://127.0.0.1:${port}/`)
  t.equal(await res.body.text(), 'waiting;ask again')
})

t.test('a response marked with data moves: its data, and the rest of its chunked body from a LongLivedStream', async (t) => {
  const seen: Array<ReturnType<typeof handOverOf>> = []
  const server = http.createServer((req, res) => {
    if (req.url === '/plain') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('a')
      seen.push(handOverOf(res)) // recognised, but no data: ended, not moved
      return res.end()
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    longLived(res, { data: () => ({ channel: 'feed', lastId: 7 }) })
    res.write('id: 7\n\n')
    const handOver = handOverOf(res)
    seen.push(handOver)
    // What the new version does with the moved socket: go on with the body, then end it.
    const stream = new LongLivedStream(res.socket!, handOver!.chunked)
    stream.write('id: 8\n\n')
    stream.write('')
    stream.end('id: 9\n\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as { port: number }
  const res = await request(`http://127.0.0.1:${port}/`)
  t.equal(await res.body.text(), 'id: 7\n\nid: 8\n\nid: 9\n\n', 'one body, chunks continued and terminated')
  t.same(seen[0], { data: { channel: 'feed', lastId: 7 }, chunked: true })
  const plain = await request(`http://127.0.0.1:${port}/plain`)
  await plain.body.text()
  t.equal(seen[1], null, 'an unmarked stream does not move')
})
