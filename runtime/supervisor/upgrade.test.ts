// The upgrade state machine against fake processes: the order of messages on
// commit, and what each failure does to the old and the new version.
import t from 'tap'
import type { SupervisorMessage } from '../protocol.js'
import type { ProgramProcess, SpawnSpec } from './program-process.js'
import { FakeLink } from './fake-program.test-support.js'
import { runUpgrade, type UpgradeEnv, type UpgradeEvent } from './upgrade.js'
import { everyPhase, type Deadlines, type Timers } from './deadlines.js'
import type { Phase } from './phases.js'

/** A clock that moves only when the test says so; deadlines' timers run on it. */
class FakeClock implements Timers {
  time = 0
  private pending: Array<{ at: number; fn: () => void; phase?: Phase }> = []
  private watchers: Array<{ phase: Phase; resolve: () => void }> = []

  now = (): number => this.time

  after(fn: () => void, ms: number, phase?: Phase): () => void {
    const timer = { at: this.time + ms, fn, phase }
    this.pending.push(timer)
    for (const w of this.watchers.filter((w) => w.phase === phase)) w.resolve()
    this.watchers = this.watchers.filter((w) => w.phase !== phase)
    return () => { this.pending = this.pending.filter((p) => p !== timer) }
  }

  /** Resolves once a deadline of `phase` is armed (the state machine waits in it). */
  armed(phase: Phase): Promise<void> {
    if (this.pending.some((p) => p.phase === phase)) return Promise.resolve()
    return new Promise((resolve) => this.watchers.push({ phase, resolve }))
  }

  advance(ms: number): void {
    this.time += ms
    for (const timer of [...this.pending].sort((a, b) => a.at - b.at)) {
      if (timer.at > this.time || !this.pending.includes(timer)) continue
      this.pending = this.pending.filter((p) => p !== timer)
      timer.fn()
    }
  }
}

type Script = (message: SupervisorMessage, program: FakeProgram) => void

class FakeProgram extends FakeLink implements ProgramProcess {
  readonly pid: number
  readonly entry: string
  readonly version: string
  killedWith: string | null = null

  constructor(pid: number, version: string, private readonly script: Script) {
    super()
    this.pid = pid
    this.entry = `/app/${version}.js`
    this.version = version
  }

  protected handle(message: SupervisorMessage): void {
    this.script(message, this)
  }

  kill(signal = 'SIGKILL'): void {
    this.killedWith ??= signal
    this.exitWith({ code: null, signal })
  }
}

const stats = { bytes: 10, records: 2, roots: 1 }

/** An old version that behaves, with overrides per message type. */
function oldScript(overrides: Partial<Record<SupervisorMessage['dsu'], Script>> = {}): Script {
  return (m, p) => {
    const o = overrides[m.dsu]
    if (o) return o(m, p)
    if (m.dsu === 'manifest') p.emit({ dsu: 'manifest', roots: [{ name: 'counters', kind: 'map', count: 2 }] })
    if (m.dsu === 'quiesce') p.emit({ dsu: 'quiesced' })
    if (m.dsu === 'send-state') p.emit({ dsu: 'sent', ...stats })
    if (m.dsu === 'commit') {
      p.emit({ dsu: 'connection', key: 'tcp:*:0#1' }, { close() {} })
      p.emit({ dsu: 'handed-off', connections: 1 })
      p.die(0)
    }
  }
}

/** A new version that behaves, with overrides; it boots as soon as it is spawned. */
function newScript(overrides: Partial<Record<SupervisorMessage['dsu'] | 'boot', Script>> = {}): Script {
  return (m, p) => {
    const o = overrides[m.dsu]
    if (o) return o(m, p)
    if (m.dsu === 'receive-state') p.emit({ dsu: 'receiving' })
    if (m.dsu === 'activate') p.emit({ dsu: 'active', keys: m.keys })
  }
}

function setup(newOverrides: Parameters<typeof newScript>[0] = {}, oldOverrides: Parameters<typeof oldScript>[0] = {}, deadlines: Deadlines = everyPhase(200), extra: Partial<UpgradeEnv> = {}) {
  const clock = new FakeClock()
  const old = new FakeProgram(1, '1.0.0', oldScript(oldOverrides))
  let spawned: FakeProgram | null = null
  const events: UpgradeEvent[] = []
  const listeners = new Map<string, unknown>([['tcp:*:0#1', { close() {} }]])
  let spawnSpec: SpawnSpec | null = null
  const env: UpgradeEnv = {
    spawn: (spec: SpawnSpec) => {
      spawnSpec = spec
      spawned = new FakeProgram(2, spec.version, newScript(newOverrides))
      const p = spawned
      const boot = newOverrides.boot
      queueMicrotask(() => (boot ? boot({ dsu: 'resume' }, p) : p.emit({ dsu: 'booted' })))
      return p
    },
    now: clock.now,
    timers: clock,
    streamPath: () => '/tmp/fake.sock',
    listeners,
    ...extra,
  }
  const run = () => runUpgrade(old, { entry: '/app/2.0.0.js', version: '2.0.0', transformer: null, deadlines }, env, (e) => events.push(e))
  return { old, next: () => spawned!, events, run, listeners, spec: () => spawnSpec!, clock }
}

// The new version restores and becomes ready once the old one sends its state.
const restoring: Script = (m, p) => {
  if (m.dsu === 'receive-state') p.emit({ dsu: 'receiving' })
}
function readyAfterSend(s: ReturnType<typeof setup>): void {
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') queueMicrotask(() => {
      s.next().emit({ dsu: 'restored', ...stats, transformMs: 0.5 })
      s.next().emit({ dsu: 'ready' })
    })
    return origSend(m)
  }
}

t.test('commit: phases in order, handles passed, connections relayed', async (t) => {
  const s = setup({ 'receive-state': restoring })
  readyAfterSend(s)
  const result = await s.run()
  t.equal(result.outcome, 'committed')
  t.equal(result.serving, s.next())
  t.same(result.state, stats)
  t.equal(result.connectionsMoved, 1)
  t.same(s.events.filter((e) => e.event === 'phase').map((e) => e.phase), ['spawn', 'quiesce', 'transfer', 'transform', 'init', 'ready', 'commit'])
  t.same(s.events.map((e) => e.event === 'phase' && e.next), ['quiesce', 'transfer', 'transform', 'init', 'ready', 'commit', null], 'each event names the phase that starts')
  t.same(s.old.received.map((m) => m.dsu), ['manifest', 'quiesce', 'send-state', 'commit'], 'old: never resumed')
  t.same(s.next().received.map((m) => m.dsu), ['receive-state', 'listen-handle', 'activate', 'connection'])
  t.ok(result.pauseMs !== null && result.pauseMs >= 0)
  t.match(s.spec(), { role: 'successor', from: '1.0.0', manifest: [{ name: 'counters', kind: 'map', count: 2 }], listeners: ['tcp:*:0#1'] }, 'the new version gets the old manifest for pre-flight')
  t.equal(s.next().killedWith, null)
})

t.test('a new version that exits while booting is reported as a spawn failure', async (t) => {
  const s = setup({ boot: (_m, p) => p.die(3) })
  const result = await s.run()
  t.equal(result.outcome, 'rolled-back')
  t.equal(result.serving, s.old)
  t.equal(result.error?.phase, 'spawn')
  t.equal(result.error?.code, 'DSU_ERR_SPAWN_FAILED')
  t.same(s.old.received.map((m) => m.dsu), ['manifest'], 'the old version was never paused')
})

t.test('a broken transformer found at boot refuses before the old version pauses', async (t) => {
  const s = setup({ boot: (_m, p) => p.emit({ dsu: 'restore-failed', error: { code: 'DSU_ERR_TRANSFORMER_INVALID', message: 'no default export' } }) })
  const result = await s.run()
  t.equal(result.error?.code, 'DSU_ERR_TRANSFORMER_INVALID')
  t.equal(result.error?.phase, 'spawn')
  t.same(s.old.received.map((m) => m.dsu), ['manifest'], 'never paused')
  t.equal(s.next().killedWith, 'SIGKILL')
})

t.test('quiescence failure: the old version resumes itself, the new one is killed', async (t) => {
  const s = setup({}, { quiesce: (_m, p) => p.emit({ dsu: 'quiesce-failed', error: { code: 'DSU_ERR_QUIESCE_TIMEOUT', message: '1 request in flight' } }) })
  const result = await s.run()
  t.equal(result.error?.phase, 'quiesce')
  t.equal(result.error?.code, 'DSU_ERR_QUIESCE_TIMEOUT')
  t.equal(s.next().killedWith, 'SIGKILL')
  t.same(s.old.received.map((m) => m.dsu), ['manifest', 'quiesce', 'resume'])
})

t.test('unserializable state: the sender\'s error wins over the broken stream', async (t) => {
  const s = setup({ 'receive-state': restoring }, {
    'send-state': (_m, p) => p.emit({ dsu: 'send-failed', error: { code: 'DSU_ERR_UNSERIALIZABLE', message: 'counters.get("a").f: function' } }),
  })
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') queueMicrotask(() => s.next().emit({ dsu: 'restore-failed', error: { code: 'DSU_ERR_STATE_STREAM', message: 'closed early' } }))
    return origSend(m)
  }
  const result = await s.run()
  t.equal(result.error?.phase, 'transfer')
  t.equal(result.error?.code, 'DSU_ERR_UNSERIALIZABLE')
  t.match(result.error?.message, 'counters.get("a").f')
  t.same(s.old.received.map((m) => m.dsu), ['manifest', 'quiesce', 'send-state', 'resume'])
})

t.test('a transformer that throws fails the transform phase', async (t) => {
  const s = setup({ 'receive-state': restoring })
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') queueMicrotask(() => s.next().emit({ dsu: 'restore-failed', error: { code: 'DSU_ERR_TRANSFORM_FAILED', message: 'boom' } }))
    return origSend(m)
  }
  const result = await s.run()
  t.equal(result.error?.phase, 'transform')
  t.equal(result.error?.code, 'DSU_ERR_TRANSFORM_FAILED')
  t.equal(s.old.received.at(-1)?.dsu, 'resume')
})

t.test('not ready before the init deadline: rollback with DSU_ERR_READY_TIMEOUT', async (t) => {
  const s = setup({ 'receive-state': restoring }, {}, { ...everyPhase(200), init: 50 })
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') queueMicrotask(() => s.next().emit({ dsu: 'restored', ...stats, transformMs: 0 }))
    return origSend(m)
  }
  const running = s.run()
  await s.clock.armed('init')
  s.clock.advance(49)
  s.clock.advance(1)
  const result = await running
  t.equal(result.error?.phase, 'init')
  t.equal(result.error?.code, 'DSU_ERR_READY_TIMEOUT')
  t.match(result.error?.message, /init: .* within 50 ms; raise it with --timeout init=/)
  t.equal(s.next().killedWith, 'SIGKILL')
  t.equal(s.old.received.at(-1)?.dsu, 'resume')
})

t.test('two messages in one read: the second is not missed', async (t) => {
  // restored and ready arrive back to back, before a waiter for ready exists.
  const s = setup({ 'receive-state': restoring })
  readyAfterSend(s)
  const result = await s.run()
  t.equal(result.outcome, 'committed')
})

t.test('listeners the new version did not bind are closed and forgotten', async (t) => {
  const s = setup({ 'receive-state': restoring, activate: (_m, p) => p.emit({ dsu: 'active', keys: [] }) })
  readyAfterSend(s)
  let closed = false
  s.listeners.set('tcp:*:0#1', { close: () => (closed = true) })
  const result = await s.run()
  t.equal(result.outcome, 'committed')
  t.ok(closed)
  t.equal(s.listeners.size, 0)
})

t.test('a sender whose socket broke after the receiver verified everything does not fail the upgrade', async (t) => {
  const s = setup({ 'receive-state': restoring }, {
    'send-state': (_m, p) => p.emit({ dsu: 'send-failed', error: { code: 'DSU_ERR_STATE_STREAM', message: 'state stream failed: EPIPE' } }),
  })
  readyAfterSend(s)
  const result = await s.run()
  t.equal(result.outcome, 'committed')
})

t.test('the receiver\'s transform error wins over the sender\'s broken socket', async (t) => {
  const s = setup({ 'receive-state': restoring }, {
    'send-state': (_m, p) => p.emit({ dsu: 'send-failed', error: { code: 'DSU_ERR_STATE_STREAM', message: 'state stream failed: EPIPE' } }),
  })
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') queueMicrotask(() => s.next().emit({ dsu: 'restore-failed', error: { code: 'DSU_ERR_TRANSFORM_FAILED', message: 'boom' } }))
    return origSend(m)
  }
  const result = await s.run()
  t.equal(result.error?.code, 'DSU_ERR_TRANSFORM_FAILED')
  t.equal(result.error?.phase, 'transform')
})

t.test('init: the new version\'s code after state() resolved is its own phase, inside the pause', async (t) => {
  const s = setup({ 'receive-state': restoring })
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') {
      queueMicrotask(async () => {
        s.clock.advance(5) // transfer
        s.next().emit({ dsu: 'restored', ...stats, transformMs: 2 })
        await s.clock.armed('init')
        s.clock.advance(60) // the program's own init, e.g. plugins loading
        s.next().emit({ dsu: 'ready' })
      })
    }
    return origSend(m)
  }
  const result = await s.run()
  t.equal(result.outcome, 'committed')
  t.same(Object.keys(result.phases), ['spawn', 'quiesce', 'transfer', 'transform', 'init', 'ready', 'commit'])
  t.equal(result.phases.transfer, 3)
  t.equal(result.phases.transform, 2)
  t.equal(result.phases.init, 60)
  t.equal(result.pauseMs, 65, 'the pause holds transfer, transform and init')
})

t.test('per-phase deadlines: the old version quiesces within its own, the transform has its own', async (t) => {
  const s = setup({ 'receive-state': restoring }, {}, { ...everyPhase(200), quiesce: 70, transfer: 500, transform: 30 })
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') {
      queueMicrotask(async () => {
        s.clock.advance(400) // a slow transfer, within its 500 ms
        s.next().emit({ dsu: 'decoded' })
        s.clock.advance(29)
        s.clock.advance(1) // the transformer never returns
      })
    }
    return origSend(m)
  }
  const result = await s.run()
  t.match(s.old.received.find((m) => m.dsu === 'quiesce'), { timeoutMs: 70 })
  t.equal(result.outcome, 'rolled-back')
  t.equal(result.error?.phase, 'transform')
  t.equal(result.error?.code, 'DSU_ERR_PHASE_TIMEOUT')
  t.match(result.error?.message, /transform: the transformer did not finish within 30 ms/)
  t.equal(s.old.received.at(-1)?.dsu, 'resume')
})

/** Old and new versions with a pre-copy root; `precopy` scripts the old version's pre-copy. */
function precopySetup(precopy: Script, deadlines: Deadlines) {
  const s = setup({
    'receive-state': restoring,
    'await-bytes': (m, p) => p.emit({ dsu: 'caught-up', bytes: (m as { bytes: number }).bytes }),
  }, {
    manifest: (_m, p) => p.emit({ dsu: 'manifest', roots: [{ name: 'sessions', kind: 'map', count: 100_000, precopy: true }] }),
    'send-state': precopy,
    'finish-state': (_m, p) => {
      p.emit({ dsu: 'sent', ...stats })
      queueMicrotask(() => {
        s.next().emit({ dsu: 'restored', ...stats, transformMs: 0 })
        s.next().emit({ dsu: 'ready' })
      })
    },
  }, deadlines)
  return s
}

t.test('pre-copy that keeps making progress is not cut off, however long it takes', async (t) => {
  const deadlines = { ...everyPhase(200), precopy: 100 }
  const s = precopySetup((_m, p) => {
    void (async () => {
      // 50 progress reports 90 ms apart: 4.5 s in all, far past any fixed total.
      for (let i = 1; i <= 50; i++) {
        await s.clock.armed('precopy')
        s.clock.advance(90)
        p.emit({ dsu: 'precopy-progress', bytes: i * 1024 })
      }
      p.emit({ dsu: 'precopied', rounds: 2, lastRound: 10, bytes: 51_200 })
    })()
  }, deadlines)
  const result = await s.run()
  t.equal(result.outcome, 'committed', result.error?.message ?? 'committed')
  t.same(Object.keys(result.phases), ['spawn', 'precopy', 'quiesce', 'transfer', 'transform', 'init', 'ready', 'commit'])
  t.equal(result.phases.precopy, 4500)
  t.same(s.events.slice(0, 2).map((e) => e.event === 'phase' && [e.phase, e.next]), [['spawn', 'precopy'], ['precopy', 'quiesce']],
    'after spawn comes pre-copy, then quiesce')
})

t.test('pre-copy that stalls is aborted at its stall deadline; the old version was never paused', async (t) => {
  const deadlines = { ...everyPhase(200), precopy: 100 }
  const s = precopySetup((_m, p) => {
    void (async () => {
      await s.clock.armed('precopy')
      s.clock.advance(90)
      p.emit({ dsu: 'precopy-progress', bytes: 1024 })
      s.clock.advance(99) // no progress since: still within the deadline
      s.clock.advance(1) // 100 ms without progress
    })()
  }, deadlines)
  const result = await s.run()
  t.equal(result.outcome, 'rolled-back')
  t.equal(result.error?.phase, 'precopy')
  t.equal(result.error?.code, 'DSU_ERR_PHASE_TIMEOUT')
  t.match(result.error?.message, /precopy: pre-copy made no progress within 100 ms; raise it with --timeout precopy=/)
  t.equal(result.pauseMs, null)
  t.same(s.old.received.map((m) => m.dsu), ['manifest', 'send-state', 'resume'], 'pre-copy stopped, never quiesced')
  t.equal(s.next().killedWith, 'SIGKILL')
})

t.test('the old version dying before the new one holds the state: failed, not rolled back, noticed at once', async (t) => {
  // The new version waits for state that never comes; the old one dies after it quiesced.
  const s = setup({ 'receive-state': restoring }, { 'send-state': (_m, p) => p.kill('SIGKILL') }, everyPhase(60_000))
  const result = await s.run()
  t.equal(result.outcome, 'failed')
  t.equal(result.error?.code, 'DSU_ERR_OLD_VERSION_EXITED')
  t.equal(result.error?.phase, 'transfer')
  t.match(result.error?.message, /1\.0\.0 \(pid 1\) was killed by SIGKILL during the upgrade, in phase transfer/)
  t.equal(s.next().killedWith, 'SIGKILL', 'the new version, without the whole state, is stopped')
  t.notOk(s.old.received.some((m) => m.dsu === 'resume'), 'nothing pretends to resume the dead version')
  t.same(s.events.at(-1), { event: 'failed', phase: 'transfer', error: result.error })
  t.equal(s.clock.time, 0, 'no deadline had to pass')
})

t.test('the old version dying once the new one holds the state: the upgrade commits', async (t) => {
  const s = setup({ 'receive-state': restoring }, {}, everyPhase(60_000))
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') queueMicrotask(() => {
      s.next().emit({ dsu: 'decoded' }) // the whole stream verified (DONE counts)
      s.old.kill('SIGKILL') // while the transformer runs
      s.next().emit({ dsu: 'restored', ...stats, transformMs: 0.5 })
      queueMicrotask(() => s.next().emit({ dsu: 'ready' }))
    })
    return origSend(m)
  }
  const result = await s.run()
  t.equal(result.outcome, 'committed')
  t.equal(result.serving, s.next())
  t.same(result.state, stats)
  t.equal(result.connectionsMoved, 0, 'its connections died with it')
})

t.test('a new version killed while its transformer runs failed in transform, not transfer', async (t) => {
  const s = setup({ 'receive-state': restoring })
  const origSend = s.old.send.bind(s.old)
  s.old.send = (m) => {
    if (m.dsu === 'send-state') queueMicrotask(() => {
      s.next().emit({ dsu: 'decoded' })
      s.next().kill('SIGKILL')
    })
    return origSend(m)
  }
  const result = await s.run()
  t.equal(result.outcome, 'rolled-back')
  t.equal(result.error?.phase, 'transform')
  t.same(s.old.received.map((m) => m.dsu), ['manifest', 'quiesce', 'send-state', 'resume'], 'the old version resumes')
})

t.test('atomic (several workers): the barriers come before the pause and before binding; a failed one rolls this worker back', async (t) => {
  const points: string[] = []
  const passing = setup({ 'receive-state': restoring }, {}, everyPhase(200), {
    barrier: async (point) => {
      // What the old version was told by then: not paused before 'quiesce'; paused, not committed at 'activate'.
      points.push(`${point}: ${passing.old.received.map((m) => m.dsu).join(',')}`)
    },
  })
  readyAfterSend(passing)
  const result = await passing.run()
  t.equal(result.outcome, 'committed')
  t.same(points, ['quiesce: manifest', 'activate: manifest,quiesce,send-state'])
  t.type(result.quiescedAt, 'number')
  t.type(result.servingAt, 'number')

  const failing = setup({ 'receive-state': restoring }, {}, everyPhase(200), {
    barrier: async (point) => {
      if (point === 'activate') throw Object.assign(new Error('worker 1 rolled back in transform'), { code: 'DSU_ERR_WORKER_ROLLED_BACK' })
    },
  })
  readyAfterSend(failing)
  const rolled = await failing.run()
  t.equal(rolled.outcome, 'rolled-back')
  t.equal(rolled.error?.code, 'DSU_ERR_WORKER_ROLLED_BACK')
  t.equal(rolled.serving, failing.old)
  t.same(failing.old.received.map((m) => m.dsu), ['manifest', 'quiesce', 'send-state', 'resume'], 'the old version resumes; it never commits')
  t.equal(failing.next().killedWith, 'SIGKILL', 'the new version is stopped')
  t.notOk(failing.next().received.some((m) => m.dsu === 'activate'), 'the new version never bound the sockets')
})
