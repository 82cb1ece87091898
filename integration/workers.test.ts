// `dsu run --workers 2` under a keep-alive write load: upgrades with both
// strategies commit and roll back with 0 failed requests and 0 lost writes,
// each acknowledged write still held by the worker that acknowledged it
// (per-worker state); a worker crash during a rolling upgrade costs only that
// worker's connections, and the upgrade still upgrades it.
//
// The writers are undici Clients, one keep-alive connection each: a
// connection stays with one worker (across upgrades its socket moves to the
// worker's new version), so each client ends by asking its own worker for
// the keys it holds.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { Client } from 'undici'
import { dsu, fileExists, fixture, runSupervised, type Supervised } from './harness.js'

interface Ack { k: string; worker: number; version: string; sentAt: number; recvAt: number }

/** Keep-alive writers: each one POSTs its own keys, one after the other, on its own connection. */
class Writers {
  readonly acks: Ack[] = []
  /** Failed requests, with the worker that last answered on that connection. */
  readonly failures: Array<{ error: string; lastWorker: number | null }> = []
  private running = true
  private loops: Promise<void>[] = []
  private readonly marks: Array<{ n: number; resolve: () => void }> = []

  constructor(readonly clients: Array<{ client: Client; worker: number }>) {}

  start(): void {
    this.loops = this.clients.map(async ({ client }, ci) => {
      let lastWorker: number | null = null
      for (let n = 0; this.running; n++) {
        const k = `c${ci}-${n}`
        const sentAt = performance.now()
        try {
          const res = await client.request({ method: 'POST', path: `/put?k=${k}` })
          const body = await res.body.json() as { worker: number; version: string }
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
          lastWorker = body.worker
          this.acks.push({ k, worker: body.worker, version: body.version, sentAt, recvAt: performance.now() })
          for (const m of this.marks) if (this.acks.length >= m.n) m.resolve()
        } catch (error) {
          this.failures.push({ error: (error as Error).message, lastWorker })
        }
      }
    })
  }

  /** Resolves once `more` further writes were acknowledged. */
  more(more: number): Promise<void> {
    const n = this.acks.length + more
    return new Promise((resolve) => (this.acks.length >= n ? resolve() : this.marks.push({ n, resolve })))
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
  }

  /** Each client asks its own worker for the keys it holds. */
  async held(): Promise<Map<number, Set<string>>> {
    const byWorker = new Map<number, Set<string>>()
    for (const { client } of this.clients) {
      const body = await (await client.request({ method: 'GET', path: '/keys' })).body.json() as { worker: number; keys: string[] }
      byWorker.set(body.worker, new Set(body.keys))
    }
    return byWorker
  }
}

/** Opens keep-alive connections until each of the `workers` serves at least two of them. */
async function connect(sup: Supervised, workers: number): Promise<Array<{ client: Client; worker: number }>> {
  // The start line comes once every worker serves (the first 'listening' line is worker 0's).
  await sup.waitForOutput(new RegExp(`running .*\\(${workers} workers`))
  const port = sup.port
  const clients: Array<{ client: Client; worker: number }> = []
  const per = new Map<number, number>()
  // The kernel hands each new connection to one worker; a bounded number of tries reaches both.
  for (let i = 0; i < 64 && [...Array(workers).keys()].some((w) => (per.get(w) ?? 0) < 2); i++) {
    const client = new Client(`http://127.0.0.1:${port}`, { pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000 })
    const body = await (await client.request({ method: 'GET', path: '/' })).body.json() as { worker: number }
    per.set(body.worker, (per.get(body.worker) ?? 0) + 1)
    clients.push({ client, worker: body.worker })
  }
  return clients
}

/** Fresh connections until every worker named answered GET /keys (the kernel picks the worker). */
async function keysOfEach(port: number, workers: number[], held: Map<number, Set<string>>): Promise<void> {
  for (let i = 0; i < 200 && workers.some((w) => !held.has(w)); i++) {
    const client = new Client(`http://127.0.0.1:${port}`)
    const body = await (await client.request({ method: 'GET', path: '/keys' })).body.json() as { worker: number; keys: string[] }
    held.set(body.worker, new Set(body.keys))
    await client.close()
  }
}

function countBy(values: number[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1
  return counts
}

async function status(sup: Supervised): Promise<{ workers: Array<{ index: number; pid: number; version: string; state: string }> }> {
  return JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
}

function assertNoLostWrite(t: Test, acks: Ack[], held: Map<number, Set<string>>, workers: number[]): void {
  for (const w of workers) t.ok(held.has(w), `worker ${w} was asked for its keys`)
  const lost = acks.filter((a) => workers.includes(a.worker) && !held.get(a.worker)?.has(a.k))
  t.equal(lost.length, 0, `every acknowledged write is held by the worker that acknowledged it (${acks.length} writes)${lost.length ? `; lost: ${lost.slice(0, 5).map((a) => `${a.k}@${a.worker}`).join(', ')}` : ''}`)
}

for (const strategy of ['atomic', 'rolling'] as const) {
  t.test(`--workers 2, ${strategy}: a commit and a rollback under keep-alive write load, 0 failed requests, 0 lost writes`, async (t) => {
    const sup = await runSupervised(fixture('sharded-kv.js'), ['--workers', '2', '--version-label', '1.0.0'])
    const clients = await connect(sup, 2)
    t.teardown(async () => {
      await Promise.all(clients.map(({ client }) => client.close()))
      await sup.stop()
    })
    const before = await status(sup)
    t.same(before.workers.map((w) => [w.index, w.version, w.state]), [[0, '1.0.0', 'serving'], [1, '1.0.0', 'serving']], 'status shows both workers')
    t.not(before.workers[0]!.pid, before.workers[1]!.pid)
    const writers = new Writers(clients)
    writers.start()
    await writers.more(200)

    const commit = await dsu(['upgrade', '--to', fixture('sharded-kv.js'), '--version-label', '2.0.0', '--strategy', strategy, '--json', '--state-dir', sup.stateDir])
    t.equal(commit.exitCode, 0, commit.stderr)
    const committed = JSON.parse(commit.stdout)
    t.equal(committed.outcome, 'committed')
    t.equal(committed.strategy, strategy)
    t.same(committed.workers.map((w: { worker: number; outcome: string }) => [w.worker, w.outcome]), [[0, 'committed'], [1, 'committed']])
    for (const w of committed.workers) t.type(w.pauseMs, 'number', `worker ${w.worker}'s pause is reported`)
    await writers.more(200)

    // Worker 1's transformer throws: atomic rolls both back; rolling stops at worker 1.
    const rollback = await dsu(['upgrade', '--to', fixture('sharded-kv.js'), '--version-label', '3.0.0', '--strategy', strategy, '--json', '--state-dir', sup.stateDir,
      '--transformer', fixture('transforms/throw-on-worker-1.js')])
    t.equal(rollback.exitCode, 5, 'exit code 5: rolled back')
    const rolled = JSON.parse(rollback.stdout)
    t.equal(rolled.outcome, 'rolled-back')
    t.equal(rolled.error.code, 'DSU_ERR_TRANSFORM_FAILED', 'the cause is named, not the workers that followed it')
    t.match(rolled.error.message, /worker 1/)
    await writers.more(200)
    await writers.stop()

    const after = await status(sup)
    if (strategy === 'atomic') {
      t.same(rolled.workers.map((w: { outcome: string }) => w.outcome), ['rolled-back', 'rolled-back'], 'every worker rolled back together')
      t.equal(rolled.workers[0].error.code, 'DSU_ERR_WORKER_ROLLED_BACK', 'worker 0 rolled back because worker 1 did')
      t.equal(rolled.mixed, false)
      t.same(after.workers.map((w) => w.version), ['2.0.0', '2.0.0'])
      t.notOk(writers.acks.some((a) => a.version === '3.0.0'), '3.0.0 never served')
      // Mixed versions never serve: no 1.0.0 answer to a request sent after a 2.0.0 answer arrived.
      const firstV2 = Math.min(...writers.acks.filter((a) => a.version === '2.0.0').map((a) => a.recvAt))
      t.equal(writers.acks.filter((a) => a.version === '1.0.0' && a.sentAt > firstV2).length, 0, 'no 1.0.0 answer after the first 2.0.0 answer')
    } else {
      t.same(rolled.workers.map((w: { outcome: string }) => w.outcome), ['committed', 'rolled-back'], 'rolling stopped at worker 1')
      t.equal(rolled.mixed, true, 'mixed versions serve, and the result says so')
      t.same(after.workers.map((w) => w.version), ['3.0.0', '2.0.0'])
    }
    t.same(writers.failures, [], '0 failed requests')
    assertNoLostWrite(t, writers.acks, await writers.held(), [0, 1])
    t.comment(`acks per worker: ${JSON.stringify(countBy(writers.acks.map((a) => a.worker)))}; clients per worker at connect: ${JSON.stringify(countBy(clients.map((c) => c.worker)))}`)
    t.ok(new Set(writers.acks.map((a) => a.worker)).size === 2, 'both workers acknowledged writes')

    const history = JSON.parse((await dsu(['history', '--json', '--state-dir', sup.stateDir])).stdout)
    const [second, first] = history.upgrades
    t.equal(first.strategy, strategy)
    t.same(first.workers.map((w: { worker: number; outcome: string }) => [w.worker, w.outcome]), [[0, 'committed'], [1, 'committed']], 'history shows each worker')
    t.equal(second.outcome, 'rolled-back')
    t.equal(second.workers.length, 2)
    const human = await dsu(['history', '--state-dir', sup.stateDir])
    t.match(human.stdout, `${strategy} upgrade of 2 workers`)
    t.match(human.stdout, /worker 1 +rolled-back/)
  })
}

t.test('--workers 2: a worker killed during a rolling upgrade restarts and is upgraded; the other serves throughout', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-workers-'))
  const gate = path.join(dir, 'boot')
  const sup = await runSupervised(fixture('sharded-kv.js'), ['--workers', '2', '--version-label', '1.0.0'], { DSU_TEST_GATE: gate })
  const clients = await connect(sup, 2)
  t.teardown(async () => {
    await Promise.all(clients.map(({ client }) => client.close()))
    await sup.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const writers = new Writers(clients)
  writers.start()
  await writers.more(200)
  const upgrading = dsu(['upgrade', '--to', fixture('sharded-kv.js'), '--version-label', '2.0.0', '--strategy', 'rolling', '--json', '--state-dir', sup.stateDir])
  // Worker 0's new version waits at its gate: worker 1 waits its turn, and dies.
  await fileExists(`${gate}.waiting`)
  const victim = (await status(sup)).workers[1]!
  process.kill(victim.pid, 'SIGKILL')
  await sup.waitForOutput(/restarted 1\.0\.0 worker 1 \(pid \d+\)/)
  const crashedAt = performance.now()
  await writers.more(100)
  fs.writeFileSync(gate, '')
  const result = await upgrading
  t.equal(result.exitCode, 0, result.stderr)
  const r = JSON.parse(result.stdout)
  t.equal(r.outcome, 'committed')
  t.same(r.workers.map((w: { outcome: string }) => w.outcome), ['committed', 'committed'], 'the restarted worker was upgraded too')
  await writers.more(200)
  await writers.stop()

  const after = await status(sup)
  t.same(after.workers.map((w) => w.version), ['2.0.0', '2.0.0'])
  t.not(after.workers[1]!.pid, victim.pid)
  // Only requests on connections to the killed worker could fail.
  t.same(writers.failures.filter((f) => f.lastWorker !== 1), [], 'no request to worker 0 failed')
  t.comment(`${writers.failures.length} requests failed on connections to the killed worker 1`)
  // Worker 0 kept all its writes; worker 1 lost those before its crash (no
  // checkpoint: per-worker state, as documented) and kept every later one.
  // The killed worker's clients reconnected wherever the kernel sent them.
  const held = await writers.held()
  await keysOfEach(sup.port, [0, 1], held)
  assertNoLostWrite(t, writers.acks.filter((a) => a.worker === 0 || a.recvAt > crashedAt), held, [0, 1])
  const events = JSON.parse((await dsu(['history', '--events', '--json', '--state-dir', sup.stateDir])).stdout).events
  t.ok(events.some((e: { kind: string; detail: string | null }) => e.kind === 'crash' && JSON.parse(e.detail ?? '{}').worker === 1), 'the crash is journalled for worker 1')
})

t.test('--workers 2: checkpoints are per worker; a killed worker restarts from its own', async (t) => {
  const sup = await runSupervised(fixture('sharded-kv.js'), ['--workers', '2', '--version-label', '1.0.0'])
  const clients = await connect(sup, 2)
  t.teardown(async () => {
    await Promise.all(clients.map(({ client }) => client.close()))
    await sup.stop()
  })
  const writers = new Writers(clients)
  writers.start()
  await writers.more(300)
  await writers.stop()
  const checkpoint = await dsu(['checkpoint', '--json', '--state-dir', sup.stateDir])
  t.equal(checkpoint.exitCode, 0, checkpoint.stderr)
  const taken = JSON.parse(checkpoint.stdout)
  t.equal(taken.workers.length, 2, 'one checkpoint per worker')
  t.ok(fs.readdirSync(path.join(sup.stateDir, 'workers', '1', 'checkpoints')).some((f) => f.endsWith('.state')), 'worker 1\'s in workers/1/')
  const victim = (await status(sup)).workers[1]!
  process.kill(victim.pid, 'SIGKILL')
  await sup.waitForOutput(/restarted 1\.0\.0 worker 1 \(pid \d+\) from checkpoint/)
  const held = new Map<number, Set<string>>()
  await keysOfEach(sup.port, [0, 1], held)
  assertNoLostWrite(t, writers.acks, held, [0, 1])
  t.ok(writers.acks.some((a) => a.worker === 1), 'worker 1 had acknowledged writes to lose')
})

t.test('--workers 2: a listener of each worker\'s own (an address per worker) survives upgrades of both strategies and a crash restart', async (t) => {
  const sup = await runSupervised(fixture('sharded-kv.js'), ['--workers', '2', '--version-label', '1.0.0'], { DSU_TEST_ADMIN: '1' })
  t.teardown(() => sup.stop())
  const urls = await Promise.all([0, 1].map(async (i) => (await sup.waitForOutput(new RegExp(`worker ${i} admin on (http://\\S+)`)))[1]!))
  const ask = async (i: number): Promise<{ worker: number; version: string }> => {
    const client = new Client(urls[i]!)
    try {
      return await (await client.request({ method: 'GET', path: '/' })).body.json() as { worker: number; version: string }
    } finally {
      await client.close()
    }
  }
  t.match(await ask(0), { worker: 0, version: '1.0.0' })
  t.match(await ask(1), { worker: 1, version: '1.0.0' })
  let version = 1
  for (const strategy of ['atomic', 'rolling']) {
    const r = await dsu(['upgrade', '--to', fixture('sharded-kv.js'), '--version-label', `${++version}.0.0`, '--strategy', strategy, '--json', '--state-dir', sup.stateDir])
    t.equal(JSON.parse(r.stdout).outcome, 'committed', `${strategy}: ${r.stderr}`)
    t.match(await ask(0), { worker: 0, version: `${version}.0.0` }, `${strategy}: worker 0's own address reaches worker 0`)
    t.match(await ask(1), { worker: 1, version: `${version}.0.0` }, `${strategy}: worker 1's own address reaches worker 1`)
  }
  const s = await status(sup)
  process.kill(s.workers[1]!.pid, 'SIGKILL')
  await sup.waitForOutput(/restarted 3\.0\.0 worker 1/)
  t.match(await ask(1), { worker: 1, version: '3.0.0' }, 'the restarted worker 1 binds its own address again')
  t.match(await ask(0), { worker: 0 })
})

for (const workers of ['1', '2']) {
  t.test(`a node:cluster program is refused at start with DSU_ERR_CLUSTER, pointing to --workers (--workers ${workers})`, async (t) => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-cluster-'))
    t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }))
    const r = await dsu(['run', fixture('cluster-app.js'), '--workers', workers, '--state-dir', stateDir])
    t.equal(r.exitCode, 2, 'exit code 2')
    t.match(r.stderr, /DSU_ERR_CLUSTER: .*--workers/)
    t.notMatch(r.stderr, /EPIPE/)
  })
}

t.test('a listen() in a worker thread is refused with DSU_ERR_WORKER_THREAD_LISTEN', async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-thread-'))
  t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }))
  const r = await dsu(['run', fixture('thread-listen.js'), '--state-dir', stateDir])
  t.equal(r.exitCode, 2, 'exit code 2')
  t.match(r.stderr, /DSU_ERR_WORKER_THREAD_LISTEN: a worker thread called listen\(\)/)
  t.notMatch(r.stderr, /EADDRINUSE/)
})

t.test('--workers takes a whole number or auto', async (t) => {
  const r = await dsu(['run', fixture('sharded-kv.js'), '--workers', 'two'])
  t.equal(r.exitCode, 2)
  t.match(r.stderr, /--workers must be auto or a whole number/)
})
