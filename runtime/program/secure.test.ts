import net from 'node:net'
import { EventEmitter } from 'node:events'
import http2 from 'node:http2'
import https from 'node:https'
import t from 'tap'
import { IDLE_GRACE_MS, isHttp2, isTls, TlsEnding } from './secure.js'

t.test('TLS and HTTP/2 servers are recognised by shape', async (t) => {
  t.ok(isTls(https.createServer()), 'an https server is TLS')
  t.ok(isTls(http2.createSecureServer()), 'an h2 server is TLS')
  t.ok(isHttp2(http2.createSecureServer()), 'an h2 server is HTTP/2')
  t.ok(isHttp2(http2.createServer()), 'an h2c server is HTTP/2')
  t.notOk(isTls(net.createServer()), 'a net server is not TLS')
  t.notOk(isHttp2(https.createServer()), 'an https server is not HTTP/2')
})

/** A TLSSocket's parts TlsEnding uses: end(), destroy(), 'close', and an HTTP parser. */
class FakeSocket extends EventEmitter {
  destroyed = false
  ended = 0
  parser: { onIncoming?: () => number } = {}
  end(): void { this.ended++ }
  destroy(): void { this.destroyed = true }
}

t.test('an idle TLS connection is ended once it has been idle for the grace, and a request crossing the close is not processed', async (t) => {
  let clock = 1000
  const ending = new TlsEnding(() => clock)
  const socket = new FakeSocket()
  const s = socket as unknown as net.Socket
  ending.touch(s)
  t.equal(ending.endIdle(s), false, 'not closed yet')
  t.equal(socket.ended, 0, 'not ended right after a response')
  clock += IDLE_GRACE_MS - 1
  t.equal(ending.endIdle(s), false, 'not closed yet')
  t.equal(socket.ended, 0, 'not ended before the grace')
  clock += 1
  t.equal(ending.endIdle(s), false, 'idle by the clock…')
  t.equal(socket.ended, 0, '… but not ended before this process has polled for I/O')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(ending.endIdle(s), false, 'waits for the close')
  t.equal(socket.ended, 1, 'ended (close_notify, FIN) after the grace and a poll that found nothing')
  ending.endIdle(s)
  t.equal(socket.ended, 1, 'ended once')
  t.equal(ending.ending(), 1, 'counted as ending')
  t.equal(socket.parser.onIncoming?.(), 1, "a request arriving after the close is skipped")
  t.ok(socket.destroyed, '… and the connection is closed instead of answering it')
  socket.emit('close')
  t.equal(ending.ending(), 0, 'no longer ending once closed')
})
