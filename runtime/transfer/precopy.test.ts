// Pre-copy over a real Unix socket: a snapshot, changes made while it streams,
// and the final round give the receiver exactly the sender's final Map.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { PrecopySender } from './precopy.js'
import { receiveState } from './state-stream.js'

async function pair(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-precopy-'))
  const file = path.join(dir, 's.sock')
  const listener = net.createServer()
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve))
  await new Promise<void>((resolve) => listener.listen(file, resolve))
  const client = net.connect(file)
  await new Promise((resolve) => client.once('connect', resolve))
  return { client, server: await accepted, close: () => { listener.close(); fs.rmSync(dir, { recursive: true, force: true }) } }
}

t.test('changes during the stream and at the end all arrive', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, { v: number }>()
  for (let i = 0; i < 10_000; i++) m.set(`k${i}`, { v: i })
  const received = receiveState(server)
  const sender = new PrecopySender(client, new Map([['m', m]]), { converged: 0, maxRounds: 3 })
  const running = sender.run()
  // Meanwhile the program keeps working on the Map.
  m.get('k1')!.v = -1
  m.delete('k2')
  m.set('new', { v: 42 })
  await running
  m.get('k3')!.v = -3 // after the rounds, before the final one
  m.delete('new')
  const stats = await sender.finish(new Map([['other', { plain: true }]]))
  const { roots, stats: got } = await received
  t.same(got, stats, 'DONE counts agree')
  t.same(roots.get('m'), m, 'the receiver holds exactly the final Map')
  t.same(roots.get('other'), { plain: true })
  t.notOk(Object.hasOwn(m, 'get'), 'tracking removed')
})

t.test('an unserializable value written during the pre-copy names its path', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, unknown>([['a', { v: 1 }]])
  const received = receiveState(server).catch((e) => e)
  const sender = new PrecopySender(client, new Map([['m', m]]), { converged: 0, maxRounds: 2 })
  const running = sender.run()
  m.set('a', { v: 1, cb: () => {} })
  await t.rejects(running.then(() => sender.finish(new Map())), { code: 'DSU_ERR_UNSERIALIZABLE', message: /^m\.get\("a"\)\.cb: function$/ })
  sender.abort()
  t.match(await received, { code: 'DSU_ERR_STATE_STREAM' })
})

t.test('a key deleted and set again while the snapshot streams is one record', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, { v: number }>()
  for (let i = 0; i < 10_000; i++) m.set(`k${i}`, { v: i })
  const received = receiveState(server)
  const sender = new PrecopySender(client, new Map([['m', m]]), { converged: 0, maxRounds: 2 })
  const running = sender.run()
  await new Promise((resolve) => setImmediate(resolve)) // the first chunk is out
  for (let i = 0; i < 4; i++) {
    m.delete(`k${i}`) // LRU-style: move to the end
    m.set(`k${i}`, { v: -i })
  }
  await running
  const stats = await sender.finish(new Map())
  const { roots, stats: got } = await received
  t.same(got, stats)
  t.same(roots.get('m'), m)
})

t.test('progress is reported while frames go out, with the bytes sent so far', async (t) => {
  const { client, server, close } = await pair()
  t.teardown(close)
  const m = new Map<string, { v: number }>()
  for (let i = 0; i < 20_000; i++) m.set(`k${i}`, { v: i })
  const received = receiveState(server)
  const reports: number[] = []
  // progressMs 0: every write reports, so the count does not depend on the clock.
  const sender = new PrecopySender(client, new Map([['m', m]]), { progressMs: 0, onProgress: (bytes) => reports.push(bytes) })
  await sender.run()
  const stats = await sender.finish(new Map())
  await received
  t.ok(reports.length > 1, `several reports (${reports.length})`)
  t.ok(reports.every((bytes, i) => i === 0 || bytes >= reports[i - 1]!), 'the bytes never go back')
  t.ok(reports.at(-1)! > reports[0]!, 'and grow')
  t.ok(reports.at(-1)! <= stats.bytes, 'never more than was sent')
})
