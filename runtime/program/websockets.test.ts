// The pieces of WebSocket hand-over that need no process: the close frame
// written when nobody adopts, the frame-boundary check on a real ws receiver,
// and which adopter a server gets.
import { createHash } from 'node:crypto'
import http from 'node:http'
import t from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { adoptWebSockets, adopterFor, atFrameBoundary, closeFrame, deflateParams, movable, webSocketOf, type WebSocketLike } from './websockets.js'

t.test('a close frame a client reads as 1012 Service Restart', async (t) => {
  t.same([...closeFrame(1012, 'Service Restart')], [0x88, 17, 0x03, 0xf4, ...Buffer.from('Service Restart')])
  const server = http.createServer()
  server.on('upgrade', (req, socket) => {
    // A bare handshake, then only dsu's close frame and FIN: no ws on this side.
    const key = req.headers['sec-websocket-key']
    const hash = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${hash}\r\n\r\n`)
    socket.end(closeFrame(1012, 'Service Restart')) // as the runtime does when nobody adopts
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`)
  const [code, reason] = await new Promise<[number, string]>((resolve) => ws.on('close', (c, r) => resolve([c, String(r)])))
  t.same([code, reason], [1012, 'Service Restart'])
})

t.test('frame boundary, movability and adopters on a real ws server', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  const received: string[] = []
  const serverSide = new Promise<WebSocketLike>((resolve) => wss.on('connection', (ws) => {
    ws.on('message', (data) => received.push(String(data)))
    resolve(ws as unknown as WebSocketLike)
  }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { wss.close(); server.closeAllConnections(); server.close() })
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`)
  await new Promise((resolve) => client.once('open', resolve))
  const ws = await serverSide
  t.equal(webSocketOf((ws as unknown as { _socket: import('node:net').Socket })._socket), ws, 'found from its socket')
  t.ok(movable(ws), 'open, no compression: movable')
  client.send('one')
  while (received.length < 1) await new Promise((resolve) => setImmediate(resolve))
  t.ok(atFrameBoundary(ws), 'after a whole message: at a boundary')
  t.notOk(atFrameBoundary({ readyState: 1, extensions: '', protocol: '', bufferedAmount: 0, close() {}, on: () => undefined }), 'an unknown shape is never a boundary')

  t.equal(adopterFor(server), null, 'no adopter before opting in')
  adoptWebSockets(wss as never, { adopt: () => {} })
  t.equal(adopterFor(server)?.wss, wss as never, 'the WebSocketServer on this server')
  t.equal(adopterFor(http.createServer()), null, 'none for another server')
  client.close()
})

t.test('permessage-deflate: a context cannot move; opting in negotiates no context takeover', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server, perMessageDeflate: true })
  const accepted: WebSocketLike[] = []
  const waiters: Array<() => void> = []
  wss.on('connection', (ws) => {
    accepted.push(ws as unknown as WebSocketLike)
    for (const w of waiters.splice(0)) w()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { wss.close(); server.closeAllConnections(); server.close() })
  const open = async (): Promise<{ client: WebSocket; ws: WebSocketLike }> => {
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`)
    const n = accepted.length + 1
    await new Promise((resolve) => client.once('open', resolve))
    while (accepted.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
    return { client, ws: accepted[n - 1]! }
  }
  const before = await open()
  t.equal(before.ws.extensions, 'permessage-deflate')
  t.equal(deflateParams(before.ws), undefined, 'context takeover: its context cannot move')
  t.notOk(movable(before.ws), 'so it is not movable (it gets 1012)')

  adoptWebSockets(wss as never, { adopt: () => {} })
  const after = await open()
  t.match(deflateParams(after.ws), { server_no_context_takeover: true, client_no_context_takeover: true }, 'negotiated without context takeover')
  t.ok(movable(after.ws), 'movable')
  const clientParams = (after.client as unknown as { _extensions: Record<string, { params: Record<string, unknown> }> })._extensions['permessage-deflate']!.params
  t.match(clientParams, { server_no_context_takeover: true, client_no_context_takeover: true }, 'and the client agreed to it')
  before.client.close()
  after.client.close()
})
