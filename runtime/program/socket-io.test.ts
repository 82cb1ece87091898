// carrySocketIo(io) refuses, with a named error, a server whose sessions it
// cannot carry; run alone (no supervisor) it only marks its root.
import t from 'tap'
import { Server } from 'socket.io'
import { carrySocketIo } from './socket-io.js'
import { isDsuError } from '../errors.js'

async function refusal(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (error) {
    return error
  }
  return null
}

t.test('a server without connectionStateRecovery is refused with DSU_ERR_SOCKET_IO', async (t) => {
  const io = new Server()
  const error = await refusal(() => carrySocketIo(io as never))
  t.ok(isDsuError(error, 'DSU_ERR_SOCKET_IO'), 'DSU_ERR_SOCKET_IO')
  t.match((error as Error).message, /namespace "\/" keeps no sessions in memory.*connectionStateRecovery/, 'the message says what to change')
})

t.test('something that is not a socket.io Server is refused', async (t) => {
  t.ok(isDsuError(await refusal(() => carrySocketIo({} as never)), 'DSU_ERR_SOCKET_IO'))
})

t.test('a server with connectionStateRecovery is accepted; its adapters keep their sessions', async (t) => {
  const io = new Server({ connectionStateRecovery: {} })
  await carrySocketIo(io as never)
  const adapter = io.of('/').adapter as unknown as { sessions: Map<string, unknown>; packets: unknown[] }
  t.equal(adapter.sessions.size, 0)
  t.same(adapter.packets, [])
})

t.test('a server attached after the call still gets its long-polls marked (engine middleware added at bind)', async (t) => {
  const io = new Server({ connectionStateRecovery: {} })
  await carrySocketIo(io as never, { name: 'second' }) // a second server in this process: its own root
  const http = await import('node:http')
  const server = http.createServer()
  io.attach(server)
  t.teardown(() => { void io.close() })
  t.equal((io.engine as unknown as { middlewares: unknown[] }).middlewares.length, 1, 'one engine middleware, added when the engine was bound')
})
