// Fuzzed control messages (issue 11, fault matrix): random bytes, malformed
// JSON, requests of the wrong shape, huge lines, silent and half-sent
// connections, more connections than the cap, all against a live
// supervisor's control socket while a write load runs. Each one gets
// DSU_ERR_CONTROL_MESSAGE or a clean close; the supervisor never crashes,
// nothing is journalled as an upgrade, the service keeps serving (0 failed
// requests) and keeps every acknowledged write.
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import { app, dsu, getJson, runSupervised, startLoad } from '../harness.js'

interface Exchange { data: string; error: string | null }

/** Sends `bytes` (then ends its side, when `end`), and collects the reply until the supervisor closes. */
function exchange(file: string, bytes: Buffer | string, end = true): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(file)
    let data = ''
    let error: string | null = null
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (data += chunk))
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message))
    socket.on('close', () => resolve({ data, error }))
    socket.once('connect', () => {
      if (bytes.length > 0) socket.write(bytes)
      if (end) socket.end()
    })
  })
}

/** A seeded generator: the same bytes on every run, so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** The reply is one error line with DSU_ERR_CONTROL_MESSAGE, or nothing at all (a clean close). */
function checkReply(t: { ok(value: unknown, message: string): unknown; equal(a: unknown, b: unknown, message: string): unknown }, what: string, r: Exchange, allowEmpty = false): void {
  if (r.data === '') {
    t.ok(allowEmpty, `${what}: closed without a reply`)
    return
  }
  const lines = r.data.split('\n').filter(Boolean)
  t.equal(lines.length, 1, `${what}: one reply line`)
  const reply = JSON.parse(lines[0]!) as { type: string; error?: { code: string } }
  t.equal(reply.type, 'error', what)
  t.equal(reply.error?.code, 'DSU_ERR_CONTROL_MESSAGE', what)
  t.equal(r.error, null, `${what}: closed cleanly`)
}

t.test('fuzzed control messages: named errors or clean closes, the supervisor and the service unharmed', async (t) => {
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  const file = path.join(sup.stateDir, 'control.sock')
  const load = startLoad(sup.port, { path: '/inc/f', connections: 5, keepBodies: true })
  await load.reach(100)

  const next = random(11)
  for (let i = 0; i < 60; i++) {
    const bytes = Buffer.alloc(1 + Math.floor(next() * 4096))
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256)
    const r = await exchange(file, Buffer.concat([bytes, Buffer.from('\n')]))
    checkReply(t, `random bytes #${i} (${bytes.length} B)`, r)
  }

  const malformed = [
    '{', '{"cmd":', '}', '[]', 'null', '0', '"status"', 'true', '{}', '{"cmd":null}', '{"cmd":"STATUS"}',
    '{"cmd":"nope"}', '{"cmd":{"toString":1}}', '{"__proto__":{"cmd":"status"}}', '{"constructor":{"prototype":{"cmd":"stop"}}}',
    '{"cmd":"upgrade"}', '{"cmd":"upgrade","entry":"","transformer":null}', '{"cmd":"upgrade","entry":"x","transformer":5}',
    '{"cmd":"upgrade","entry":"x","transformer":null,"version":7}', '{"cmd":"upgrade","entry":["x"],"transformer":null}',
    '{"cmd":"stop","timeoutMs":-1}', '{"cmd":"stop","timeoutMs":1e12}', '{"cmd":"stop","timeoutMs":"5"}', '{"cmd":"stop","timeoutMs":NaN}',
    '{"cmd":"checkpoint","list":"yes"}', '{"cmd":"rollback","deadlines":{"spawn":"fast"}}', '{"cmd":"rollback","deadlines":{"nophase":1}}',
    '{"cmd":"rollback","deadlines":[]}', '\u0000\u0000\u0000', '\u001b[2J{"cmd":"status"}', '{"cmd":"status"'.repeat(1000),
  ]
  for (const line of malformed) checkReply(t, `malformed ${JSON.stringify(line.slice(0, 40))}`, await exchange(file, `${line}\n`))

  // A line longer than the 64 KiB limit, with no newline, is refused once it passes the limit.
  checkReply(t, 'a 1 MiB line without a newline', await exchange(file, 'x'.repeat(1 << 20), false))
  checkReply(t, 'a 200 KiB line with a newline', await exchange(file, `${'{"cmd":"status","pad":"'.padEnd(200 * 1024, 'y')}\n`))
  checkReply(t, 'half a request, then the client ends', await exchange(file, '{"cmd":"sta'), true)
  checkReply(t, 'a connection that sends nothing', await exchange(file, ''), true)

  // More connections than the cap: the extra ones are closed on arrival; every one ends.
  const held = await Promise.all(Array.from({ length: 80 }, () => new Promise<net.Socket>((resolve) => {
    const s = net.connect(file)
    s.on('error', () => {})
    s.once('connect', () => resolve(s))
  })))
  const closed = held.map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))))
  for (const s of held) if (!s.destroyed) s.end()
  await Promise.all(closed)
  t.pass('80 connections at once all ended')

  // The supervisor still answers, and serves.
  const status = await dsu(['status', '--json', '--state-dir', sup.stateDir])
  t.equal(status.exitCode, 0, 'the supervisor answers')
  const before = load.ok()
  await load.reach(before + 200)
  const result = await load.stop()
  t.equal(result.errors, 0, 'no connection error')
  t.equal(result.non2xx, 0, 'no failed request')
  const kept = (await getJson(sup.port, '/state')).counters.f as number
  t.ok(kept >= load.ok() && kept - load.ok() <= 5, `every acknowledged write kept (${kept} vs ${load.ok()})`)
  const values = load.bodies.map((b) => (JSON.parse(b) as { value: number }).value)
  t.equal(new Set(values).size, values.length, '0 lost writes')
  const history = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout)
  t.same(history.upgrades, [], 'no upgrade journalled')
  const { events } = JSON.parse((await dsu(['history', '--events', '--json', '--state-dir', sup.stateDir])).stdout)
  t.same(events.map((e: { kind: string }) => e.kind), ['start'], 'no stop, crash or restart journalled')
  t.notMatch(sup.output(), /Uncaught|TypeError|RangeError|at .*\.js:\d+/, 'no stack trace from the supervisor')
})
