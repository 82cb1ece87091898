// Which responses count as long-lived: text/event-stream however its headers
// were set, and responses the program marks; nothing else.
import http from 'node:http'
import t from 'tap'
import { request } from 'undici'
import { endLongLived, isLongLived, longLived } from './long-lived.js'

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
