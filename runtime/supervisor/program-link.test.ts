// The supervisor's end of a program's channel: replies find their request by
// its seq, late and unknown ones are dropped, milestones are remembered, and
// a malformed message (the program is user code) is ignored, never trusted
// and never thrown on.
import t from 'tap'
import type { SupervisorMessage } from '../protocol.js'
import { parseProgramMessage } from '../protocol.js'
import { ask } from './program-link.js'
import { FakeLink } from './fake-program.test-support.js'

/** A program that answers nothing by itself: the test says what it sends. */
class Program extends FakeLink {
  readonly pid = 9
  readonly entry = '/app/server.js'
  readonly version = '1.0.0'
  protected handle(_message: SupervisorMessage): void {}
  kill(): void {
    this.exitWith({ code: null, signal: 'SIGKILL' })
  }
}

function helloed(): Program {
  const p = new Program()
  p.emitRaw({ dsu: 'hello', role: 'primary', version: '1.0.0', pid: 9, acks: true })
  return p
}

t.test('each request gets a fresh seq; a reply goes to the request whose seq it echoes', async (t) => {
  const p = helloed()
  const first = p.request({ dsu: 'manifest' })
  const second = p.request({ dsu: 'manifest' })
  t.same(p.received.map((m) => m.seq), [1, 2])
  p.emitRaw({ dsu: 'manifest', roots: [{ name: 'b', kind: 'map', count: 2 }], ack: 2 })
  p.emitRaw({ dsu: 'manifest', roots: [{ name: 'a', kind: 'map', count: 1 }], ack: 1 })
  t.equal((await first.reply('manifest', { phase: 'status' })).roots[0]!.name, 'a')
  t.equal((await second.reply('manifest', { phase: 'status' })).roots[0]!.name, 'b')
})

t.test('a late reply to a request that timed out does not answer the next one', async (t) => {
  const p = helloed()
  await t.rejects(ask(p, { dsu: 'checkpoint', path: '/x', token: 'ab', timeoutMs: 10 }, 'checkpointed', { phase: 'checkpoint', timeoutMs: 20 }), { code: 'DSU_ERR_PHASE_TIMEOUT' })
  const next = ask(p, { dsu: 'checkpoint', path: '/y', token: 'cd', timeoutMs: 10 }, 'checkpointed', { phase: 'checkpoint', timeoutMs: 5000 })
  // The first checkpoint's failure arrives now: stale, dropped.
  p.emitRaw({ dsu: 'checkpoint-failed', error: { code: 'DSU_ERR_QUIESCE_TIMEOUT', message: 'late' }, ack: 1 })
  // Unknown seqs are dropped too.
  p.emitRaw({ dsu: 'checkpointed', bytes: 1, records: 1, roots: 1, ack: 99 })
  p.emitRaw({ dsu: 'checkpointed', bytes: 2, records: 2, roots: 1, ack: 2 })
  t.equal((await next).bytes, 2, 'answered by its own reply')
})

t.test('a reply carrying an error fails its request, with the phase of the wait', async (t) => {
  const p = helloed()
  const quiesce = ask(p, { dsu: 'quiesce', timeoutMs: 100 }, 'quiesced', { phase: 'quiesce' })
  p.emitRaw({ dsu: 'quiesce-failed', error: { code: 'DSU_ERR_QUIESCE_TIMEOUT', message: '1 request in flight' }, ack: 1 })
  await t.rejects(quiesce, { code: 'DSU_ERR_QUIESCE_TIMEOUT', phase: 'quiesce', message: '1 request in flight' })
})

t.test('a reply that is not one to its request is dropped', async (t) => {
  const p = helloed()
  const activate = p.request({ dsu: 'activate', keys: [] })
  p.emitRaw({ dsu: 'restore-failed', error: { code: 'DSU_ERR_STATE_STREAM', message: 'not yours' }, ack: 1 })
  p.emitRaw({ dsu: 'active', keys: ['k'], ack: 1 })
  t.same((await activate.reply('active', { phase: 'activate' })).keys, ['k'])
})

t.test('milestones are remembered: ready sent in the same read as restored is seen by a later wait', async (t) => {
  const p = helloed()
  const stream = p.request({ dsu: 'receive-state', path: '/s', token: 'ab', from: '1', to: '2' })
  p.emitRaw({ dsu: 'receiving', ack: 1 })
  p.emitRaw({ dsu: 'restored', bytes: 1, records: 1, roots: 1, transformMs: 0, ack: 1 })
  p.emitRaw({ dsu: 'ready' })
  await stream.reply('receiving', { phase: 'restore' })
  await stream.reply('restored', { phase: 'restore' })
  await p.milestone('ready', { phase: 'ready' })
  t.pass('every wait saw its message')
})

t.test('the new version failing on its own (restore-failed, no ack) fails milestone waits', async (t) => {
  const p = helloed()
  const ready = p.milestone('ready', { phase: 'init' })
  p.emitRaw({ dsu: 'restore-failed', error: { code: 'DSU_ERR_UNDECLARED_ROOT', message: 'sessions' } })
  await t.rejects(ready, { code: 'DSU_ERR_UNDECLARED_ROOT', phase: 'init' })
  await t.rejects(p.milestone('booted', { phase: 'spawn' }), { code: 'DSU_ERR_UNDECLARED_ROOT' }, 'and later ones')
})

t.test('the exit ends every wait with the wait\'s exit code', async (t) => {
  const p = helloed()
  const booted = p.milestone('booted', { phase: 'spawn', exitCode: 'DSU_ERR_SPAWN_FAILED' })
  const sent = ask(p, { dsu: 'finish-state' }, 'sent', { phase: 'transfer', exitCode: 'DSU_ERR_PROGRAM_EXITED' })
  p.die(3)
  await t.rejects(booted, { code: 'DSU_ERR_SPAWN_FAILED', message: 'spawn: 1.0.0 (pid 9) exited with code 3' })
  await t.rejects(sent, { code: 'DSU_ERR_PROGRAM_EXITED' })
})

t.test('an abort ends a wait with its reason; nothing is left subscribed', async (t) => {
  const p = helloed()
  const controller = new AbortController()
  const request = p.request({ dsu: 'commit' })
  const handedOff = request.reply('handed-off', { phase: 'commit', signal: controller.signal })
  controller.abort(new Error('deadline'))
  await t.rejects(handedOff, { message: 'deadline' })
  request.close()
  p.emitRaw({ dsu: 'handed-off', connections: 1, ack: 1 })
  t.pass('a reply to a closed request is dropped')
})

t.test('a runtime that does not echo seq (no acks in its hello): replies match by type', async (t) => {
  const p = new Program()
  p.emitRaw({ dsu: 'hello', role: 'primary', version: '1.0.0', pid: 9 })
  const manifest = ask(p, { dsu: 'manifest' }, 'manifest', { phase: 'status', timeoutMs: 5000 })
  p.emitRaw({ dsu: 'manifest', roots: [] })
  t.same((await manifest).roots, [])
})

t.test('malformed and hostile messages are ignored: no throw, no listener, no reply', async (t) => {
  const p = helloed()
  const seen: string[] = []
  p.onMessage((m) => seen.push(m.dsu))
  const manifest = ask(p, { dsu: 'manifest' }, 'manifest', { phase: 'status', timeoutMs: 200 })
  const hostile: unknown[] = [
    null, undefined, 0, 'manifest', [], {}, { dsu: 5 }, { dsu: 'nope' }, { dsu: 'toString' }, { dsu: '__proto__' },
    { dsu: 'manifest' }, { dsu: 'manifest', roots: 'x', ack: 1 }, { dsu: 'manifest', roots: [null], ack: 1 },
    { dsu: 'manifest', roots: [], ack: '1' }, { dsu: 'manifest', roots: [], ack: 1.5 }, { dsu: 'manifest', roots: [], ack: -1 },
    { dsu: 'manifest', roots: [], ack: Number.NaN }, { dsu: 'manifest', roots: [], ack: 2 ** 60 },
    { dsu: 'quiesce-failed', error: null, ack: 1 }, { dsu: 'quiesce-failed', error: { code: 1 }, ack: 1 },
    { dsu: 'refused', error: 'boom' }, { dsu: 'refused' }, { dsu: 'listener', key: 1, address: 'x' },
    { dsu: 'hello', role: 'root', version: '1', pid: 1 }, { dsu: 'active', keys: [1] }, { dsu: 'sent', bytes: -1, records: 0, roots: 0 },
    { dsu: 'restored', bytes: 1, records: 1, roots: 1 }, { dsu: 'connection', key: 'k', ws: 'x' },
  ]
  for (const value of hostile) p.emitRaw(value)
  t.same(seen, [], 'no listener saw any of them')
  await t.rejects(manifest, { code: 'DSU_ERR_PHASE_TIMEOUT' }, 'none answered the request')
})

t.test('seeded random messages never throw', async (t) => {
  let seed = 7
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const types = ['hello', 'listener', 'booted', 'manifest', 'sent', 'restored', 'restore-failed', 'active', 'refused', 'connection', 'x']
  const values = (): unknown => [null, 1, -1, 1.5, 'a', [], ['a'], {}, { code: 'DSU_ERR_INTERNAL', message: 'm' }, true][Math.floor(next() * 10)]
  const p = helloed()
  const thrown: unknown[] = []
  for (let i = 0; i < 2000; i++) {
    const message: Record<string, unknown> = { dsu: types[Math.floor(next() * types.length)] }
    for (const field of ['ack', 'roots', 'keys', 'error', 'key', 'bytes', 'records', 'roots', 'transformMs', 'address', 'role', 'version', 'pid', 'ws']) {
      if (next() < 0.5) message[field] = values()
    }
    try {
      p.emitRaw(message)
      parseProgramMessage(message)
    } catch (error) {
      thrown.push(error)
    }
  }
  t.same(thrown, [], '2000 messages, no throw')
})
