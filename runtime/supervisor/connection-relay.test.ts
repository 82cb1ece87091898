// The supervisor's relay of connections between the two versions: each
// handle goes on as it arrives, one at a time, in order (the message saying
// how to adopt them jumps the queue), and the supervisor's copy is closed
// once sent; only this upgrade's handles and adopt message go on; after a
// rollback the handles still announced are closed as they arrive, and the
// relay stops once all have come.
import t from 'tap'
import type { ProgramMessage, SupervisorMessage } from '../protocol.js'
import type { Exit, ProgramProcess } from './program-process.js'
import { relayConnections } from './connection-relay.js'

class FakeHandle {
  closed = 0
  constructor(readonly name: string) {}
  close(): void { this.closed++ }
}

class Fake implements ProgramProcess {
  readonly pid = 1
  readonly entry = '/app.js'
  readonly version = 'v'
  readonly startedAt = 0
  readonly exited = new Promise<Exit>(() => {})
  exit: Exit | null = null
  readonly sent: Array<{ message: SupervisorMessage; handle: unknown }> = []
  private listeners = new Set<(m: ProgramMessage, h: unknown) => void>()
  private exitListeners = new Set<(e: Exit) => void>()
  /** Sends complete when the test says so, like writes behind a handle's ACK. */
  private pending: Array<() => void> = []
  send(message: SupervisorMessage, handle?: unknown): Promise<void> {
    this.sent.push({ message, handle })
    return new Promise((resolve) => this.pending.push(resolve))
  }
  flush(): void { for (const r of this.pending.splice(0)) r() }
  emit(message: ProgramMessage, handle?: unknown): void { for (const l of [...this.listeners]) l(message, handle) }
  onMessage(l: (m: ProgramMessage, h: unknown) => void): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }
  get listening(): number { return this.listeners.size }
  onExit(l: (e: Exit) => void): () => void {
    this.exitListeners.add(l)
    return () => this.exitListeners.delete(l)
  }
  die(): void {
    this.exit = { code: 1, signal: null }
    for (const l of this.exitListeners) l(this.exit)
  }
  // The relay only listens and sends: requests and milestones are not its business.
  request(): never { throw new Error('the relay makes no requests') }
  milestone(): never { throw new Error('the relay waits for no milestone') }
  kill(): void {}
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('commit: forwarded as they arrive, one at a time, in order (the adopt message first); the supervisor closes its copy once each is sent', async (t) => {
  const old = new Fake()
  const next = new Fake()
  const relay = relayConnections(old, next, 'up')
  const handles = [1, 2, 3].map((n) => new FakeHandle(String(n)))
  old.emit({ dsu: 'quiesced', ahead: { tag: 'up', count: 2 } })
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 1 } }, handles[0])
  t.equal(next.sent.length, 1, 'the first is forwarded at once')
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 2 } }, handles[1])
  old.emit({ dsu: 'adopt-ahead', tag: 'up', connections: [{ key: 'k', id: 1 }, { key: 'k', id: 2 }] })
  old.emit({ dsu: 'connection', key: 'k' }, handles[2]) // accepted in the pause: moves at commit
  t.equal(next.sent.length, 1, 'the next waits until the first is written')
  t.equal(handles[0]!.closed, 0, 'not closed before written to the new version')
  relay.stop() // handed off: what is queued still goes on
  for (let i = 0; i < 4; i++) {
    next.flush()
    await tick()
  }
  t.same(next.sent.map((s) => s.message.dsu), ['connection', 'adopt-ahead', 'connection', 'connection'], 'in the order sent, but the adopt message jumps the queue')
  t.same(next.sent.map((s) => (s.handle as FakeHandle | undefined)?.name), ['1', undefined, '2', '3'])
  t.same(handles.map((h) => h.closed), [1, 1, 1], 'each closed once sent')
  t.equal(relay.relayed, 3)
  t.equal(old.listening, 0, 'stopped')
})

t.test('nothing is forwarded from the new version\'s restored until it is active (the end of the pause)', async (t) => {
  const old = new Fake()
  const next = new Fake()
  relayConnections(old, next, 'up')
  const handles = [1, 2].map((n) => new FakeHandle(String(n)))
  old.emit({ dsu: 'quiesced', ahead: { tag: 'up', count: 2 } })
  next.emit({ dsu: 'restored', bytes: 0, records: 0, roots: 0, transformMs: 0 })
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 1 } }, handles[0])
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 2 } }, handles[1])
  await tick()
  t.same(next.sent, [], 'held while the new version runs its init and binds')
  next.emit({ dsu: 'active', keys: [] })
  for (let i = 0; i < 3; i++) {
    next.flush()
    await tick()
  }
  t.same(next.sent.map((s) => (s.handle as FakeHandle).name), ['1', '2'], 'then forwarded, in order')
  t.same(handles.map((h) => h.closed), [1, 1])
})

t.test('another upgrade\'s handles and adopt message are left alone', async (t) => {
  const old = new Fake()
  const next = new Fake()
  relayConnections(old, next, 'mine')
  const theirs = new FakeHandle('theirs')
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'theirs', id: 1 } }, theirs)
  old.emit({ dsu: 'adopt-ahead', tag: 'theirs', connections: [] })
  old.emit({ dsu: 'quiesced', ahead: { tag: 'theirs', count: 1 } })
  await tick()
  t.same(next.sent, [])
  t.equal(theirs.closed, 0, 'its own relay closes it')
})

t.test('rollback: the handles still announced are closed, not forwarded; then the relay stops', async (t) => {
  const old = new Fake()
  const next = new Fake()
  const relay = relayConnections(old, next, 'up')
  const handles = [1, 2, 3].map((n) => new FakeHandle(String(n)))
  old.emit({ dsu: 'quiesced', ahead: { tag: 'up', count: 3 } })
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 1 } }, handles[0])
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 2 } }, handles[1]) // queued behind the first
  relay.drain()
  t.equal(old.listening, 1, 'still one to come')
  old.emit({ dsu: 'adopt-ahead', tag: 'up', connections: [] })
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 3 } }, handles[2])
  t.equal(old.listening, 0, 'stopped once every announced handle came')
  next.flush()
  await tick()
  t.equal(next.sent.length, 1, 'only the one before the rollback went to the new version')
  t.same(handles.map((h) => h.closed), [1, 1, 1], 'every supervisor copy closed')
})

t.test('rollback before the count is known stops when it comes; the old version exiting stops it too', async (t) => {
  const old = new Fake()
  const next = new Fake()
  const relay = relayConnections(old, next, 'up')
  relay.drain()
  const h = new FakeHandle('1')
  old.emit({ dsu: 'connection', key: 'k', ahead: { tag: 'up', id: 1 } }, h)
  t.equal(old.listening, 1)
  old.emit({ dsu: 'quiesced', ahead: { tag: 'up', count: 1 } })
  t.equal(old.listening, 0, 'the one announced had come already')
  await tick()
  t.equal(h.closed, 1)

  const old2 = new Fake()
  relayConnections(old2, next, 'up2').drain()
  old2.die()
  t.equal(old2.listening, 0)
})

t.test('after a rollback, connections sent at a later commit are left to that upgrade\'s relay', async (t) => {
  const old = new Fake()
  const dead = new Fake()
  relayConnections(old, dead, 'first', false).drain()
  t.equal(old.listening, 0, 'nothing was to be sent ahead: stopped at once')
  const old2 = new Fake()
  const first = relayConnections(old2, dead, 'rolled-back')
  first.drain() // quiesce never answered: lingers for the grace period
  const next = new Fake()
  relayConnections(old2, next, 'committing')
  const h = new FakeHandle('parked')
  old2.emit({ dsu: 'connection', key: 'k' }, h) // the later upgrade's commit
  next.flush()
  await tick()
  t.same(dead.sent, [], 'not taken by the rolled-back relay')
  t.equal(next.sent.length, 1, 'forwarded by the committing one')
  t.equal(h.closed, 1, 'closed once, after it was sent')
  old2.emit({ dsu: 'quiesce-failed', error: { code: 'DSU_ERR_QUIESCE_TIMEOUT', message: 'x' } } as never)
  t.equal(old2.listening, 1, 'the rolled-back relay stopped on the failed quiesce; the other listens on')
})

t.test('rollback with nothing announced (quiesce never answered) stops after the grace period', async (t) => {
  const old = new Fake()
  const relay = relayConnections(old, new Fake(), 'up')
  relay.drain(5)
  t.equal(old.listening, 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(old.listening, 0)
})
