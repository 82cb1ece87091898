// The ordering of upgrades of several workers, with fake processes and fake
// one-worker upgrades: barriers, atomic all-or-nothing, rolling one at a
// time, and the summary the CLI and the journal get.
import t from 'tap'
import { DsuError, toWire } from '../errors.js'
import { Barrier, upgradeFleet, type FleetEnv } from './fleet-upgrade.js'
import type { ProgramProcess } from './program-process.js'
import type { Phase, UpgradeResult } from './upgrade.js'

let pids = 100
function fake(version: string, entry = '/app/server.js'): ProgramProcess {
  return { pid: pids++, version, entry } as unknown as ProgramProcess
}

function committed(old: ProgramProcess, to: string, at: { q: number; s: number }): UpgradeResult {
  return {
    outcome: 'committed', from: old.version, to, phases: { spawn: 10, quiesce: 1 }, pauseMs: at.s - at.q, totalMs: 20,
    state: { bytes: 10, records: 2, roots: 1 }, serving: fake(to), connectionsMoved: 1, quiescedAt: at.q, servingAt: at.s,
  }
}

function rolledBack(old: ProgramProcess, to: string, code: string, phase: Phase): UpgradeResult {
  return {
    outcome: 'rolled-back', from: old.version, to, phases: { spawn: 10 }, pauseMs: 3, totalMs: 15, state: null,
    error: { ...toWire(new DsuError(code as never, `${code} happened`)), phase }, serving: old, connectionsMoved: 0,
  }
}

t.test('a barrier opens when every party arrived, and fails them all at once', async (t) => {
  const b = new Barrier(2)
  const first = b.arrive()
  t.equal(b.isOpen, false)
  await Promise.all([first, b.arrive()])
  t.equal(b.isOpen, true)
  b.fail(new DsuError('DSU_ERR_WORKER_ROLLED_BACK', 'too late')) // ignored: already passed

  const c = new Barrier(3)
  const waiting = [c.arrive(), c.arrive()]
  c.fail(new DsuError('DSU_ERR_WORKER_ROLLED_BACK', 'worker 2 rolled back'))
  for (const w of waiting) await t.rejects(w, { code: 'DSU_ERR_WORKER_ROLLED_BACK' })
  await t.rejects(c.arrive(), { code: 'DSU_ERR_WORKER_ROLLED_BACK' }, 'a late arrival fails too')

  const d = new Barrier(2)
  const abort = new AbortController()
  const bounded = d.arrive(abort.signal)
  abort.abort(new DsuError('DSU_ERR_PHASE_TIMEOUT', 'deadline'))
  await t.rejects(bounded, { code: 'DSU_ERR_PHASE_TIMEOUT' }, 'the phase deadline ends the wait')
})

t.test('atomic: each worker waits at both barriers; all commit, pause from first quiesce to last serving', async (t) => {
  const olds = [fake('1.0.0'), fake('1.0.0')]
  const order: string[] = []
  const env: FleetEnv = {
    serving: async (i) => olds[i]!,
    upgrade: async (i, old, barrier) => {
      t.ok(barrier, 'atomic upgrades get the barrier')
      order.push(`${i} booted`)
      await barrier!('quiesce', new AbortController().signal)
      order.push(`${i} quiesce`)
      await barrier!('activate', new AbortController().signal)
      order.push(`${i} serve`)
      return committed(old, '2.0.0', i === 0 ? { q: 100, s: 110 } : { q: 102, s: 115 })
    },
    now: () => 0,
  }
  const r = await upgradeFleet(2, { version: '2.0.0', entry: '/app/server.js' }, 'atomic', env)
  t.same(order.slice(0, 2).sort(), ['0 booted', '1 booted'], 'no worker quiesces before both booted')
  t.same(order.slice(2, 4).sort(), ['0 quiesce', '1 quiesce'], 'no worker serves before both hold their state')
  t.equal(r.outcome, 'committed')
  t.equal(r.pauseMs, 15, 'from the first quiesce (100) to the last serving (115)')
  t.same(r.state, { bytes: 20, records: 4, roots: 2 }, 'state summed over workers')
  t.same(r.workers.map((w) => w.outcome), ['committed', 'committed'])
  t.equal(r.mixed, false)
  t.equal(r.servingAll.length, 2)
})

t.test('atomic: one worker failing before commit rolls every worker back, and the cause is named', async (t) => {
  const olds = [fake('1.0.0'), fake('1.0.0'), fake('1.0.0')]
  const env: FleetEnv = {
    serving: async (i) => olds[i]!,
    upgrade: async (i, old, barrier) => {
      if (i === 2) return rolledBack(old, '2.0.0', 'DSU_ERR_TRANSFORM_FAILED', 'transform')
      try {
        await barrier!('quiesce', new AbortController().signal)
        await barrier!('activate', new AbortController().signal)
      } catch (error) {
        const e = error as DsuError
        return rolledBack(old, '2.0.0', e.code, 'quiesce')
      }
      t.fail('no worker may get past a failed barrier')
      return committed(old, '2.0.0', { q: 0, s: 1 })
    },
    now: () => 0,
  }
  const r = await upgradeFleet(3, { version: '2.0.0', entry: '/app/server.js' }, 'atomic', env)
  t.equal(r.outcome, 'rolled-back')
  t.equal(r.error?.code, 'DSU_ERR_TRANSFORM_FAILED', 'the cause, not its followers')
  t.match(r.error?.message, /^worker 2: /)
  t.same(r.workers.map((w) => [w.outcome, w.error?.code]), [['rolled-back', 'DSU_ERR_WORKER_ROLLED_BACK'], ['rolled-back', 'DSU_ERR_WORKER_ROLLED_BACK'], ['rolled-back', 'DSU_ERR_TRANSFORM_FAILED']])
  t.same(r.servingAll, olds, 'the old processes serve')
  t.equal(r.mixed, false)
})

t.test('atomic: an old version that died makes the whole upgrade failed', async (t) => {
  const olds = [fake('1.0.0'), fake('1.0.0')]
  const env: FleetEnv = {
    serving: async (i) => olds[i]!,
    upgrade: async (i, old, barrier) => {
      if (i === 0) return { ...rolledBack(old, '2.0.0', 'DSU_ERR_OLD_VERSION_EXITED', 'transfer'), outcome: 'failed' }
      await t.rejects(barrier!('quiesce', new AbortController().signal), { code: 'DSU_ERR_WORKER_ROLLED_BACK', message: /worker 0 failed/ })
      return rolledBack(old, '2.0.0', 'DSU_ERR_WORKER_ROLLED_BACK', 'quiesce')
    },
    now: () => 0,
  }
  const r = await upgradeFleet(2, { version: '2.0.0', entry: '/app/server.js' }, 'atomic', env)
  t.equal(r.outcome, 'failed')
  t.equal(r.error?.code, 'DSU_ERR_OLD_VERSION_EXITED')
})

t.test('rolling: one worker after the other, no barrier; it stops at the first rollback and says versions are mixed', async (t) => {
  const olds = [fake('1.0.0'), fake('1.0.0'), fake('1.0.0')]
  const running: number[] = []
  let concurrent = 0
  const env: FleetEnv = {
    serving: async (i) => olds[i]!,
    upgrade: async (i, old, barrier) => {
      t.equal(barrier, undefined, 'rolling upgrades have no barrier')
      concurrent++
      t.equal(concurrent, 1, 'one worker at a time')
      await new Promise((resolve) => setImmediate(resolve))
      concurrent--
      running.push(i)
      return i === 1 ? rolledBack(old, '2.0.0', 'DSU_ERR_SPAWN_FAILED', 'spawn') : committed(old, '2.0.0', { q: 0, s: 4 })
    },
    now: () => 0,
  }
  const r = await upgradeFleet(3, { version: '2.0.0', entry: '/app/server.js' }, 'rolling', env)
  t.same(running, [0, 1], 'worker 2 was not started')
  t.equal(r.outcome, 'rolled-back')
  t.equal(r.mixed, true)
  t.match(r.error?.message, /workers 0 already serve 2\.0\.0/)
  t.same(r.workers.map((w) => w.outcome), ['committed', 'rolled-back', 'not-started'])
  t.equal(r.servingAll[0]!.version, '2.0.0')
  t.equal(r.servingAll[2], olds[2])
})

t.test('rolling again after a stop half-way skips the workers already on the target', async (t) => {
  const olds = [fake('2.0.0'), fake('1.0.0')]
  const upgraded: number[] = []
  const r = await upgradeFleet(2, { version: '2.0.0', entry: '/app/server.js' }, 'rolling', {
    serving: async (i) => olds[i]!,
    upgrade: async (i, old) => {
      upgraded.push(i)
      return committed(old, '2.0.0', { q: 0, s: 5 })
    },
    now: () => 0,
  })
  t.same(upgraded, [1])
  t.equal(r.outcome, 'committed')
  t.same(r.workers.map((w) => w.outcome), ['skipped', 'committed'])
  t.equal(r.pauseMs, 5, 'rolling: the longest single worker\'s pause')
})

t.test('a worker being restarted is waited for before its turn', async (t) => {
  const olds = [fake('1.0.0'), fake('1.0.0')]
  let restarted!: () => void
  const restart = new Promise<void>((resolve) => (restarted = resolve))
  const replacement = fake('1.0.0')
  const seen: ProgramProcess[] = []
  const done = upgradeFleet(2, { version: '2.0.0', entry: '/app/server.js' }, 'rolling', {
    serving: async (i) => (i === 1 ? restart.then(() => replacement) : olds[i]!),
    upgrade: async (i, old) => {
      seen.push(old)
      return committed(old, '2.0.0', { q: 0, s: 1 })
    },
    now: () => 0,
  })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, [olds[0]], 'worker 1 waits for its restart')
  restarted()
  const r = await done
  t.equal(seen[1], replacement, 'the restarted process is the one upgraded')
  t.equal(r.outcome, 'committed')
})
