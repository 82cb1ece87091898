// Long-lived responses do not block quiescence. 100 EventSource clients (the
// `eventsource` package, as a browser would behave) hold streams open while
// two writers publish without pause, and an upgrade commits. A program that
// marks its streams with data (longLived(res, { data })) has them continued
// by the new version on the same connections: no stream sees an error or a
// reconnect. Otherwise each stream is ended cleanly at commit and reconnects
// to the new version with Last-Event-ID. Either way every stream sees every
// event id exactly once, in order. A rollback leaves the streams open and
// untouched.
import t from 'tap'
import { request } from 'undici'
import { EventSource } from 'eventsource'
import { dsu, fixture, getJson, runSupervised } from './harness.js'

const STREAMS = 100

interface Stream {
  source: EventSource
  ids: number[]
  /** Error events: a clean reconnect has no message; a failure has one. */
  errors: Array<string | undefined>
  closedForGood: boolean
  receivedAt: Map<number, number>
  waiters: Array<{ id: number; resolve: () => void }>
}

function open(port: number): Promise<Stream> {
  const source = new EventSource(`http://127.0.0.1:${port}/events`)
  const stream: Stream = { source, ids: [], errors: [], closedForGood: false, receivedAt: new Map(), waiters: [] }
  source.onmessage = (event) => {
    const id = Number(event.lastEventId)
    stream.ids.push(id)
    stream.receivedAt.set(id, performance.now())
    stream.waiters = stream.waiters.filter((w) => (id >= w.id ? (w.resolve(), false) : true))
  }
  source.onerror = (event) => {
    stream.errors.push((event as unknown as { message?: string }).message)
    if (source.readyState === source.CLOSED) stream.closedForGood = true
  }
  return new Promise((resolve, reject) => {
    source.onopen = () => resolve(stream)
    source.addEventListener('error', () => reject(new Error('stream failed to open')), { once: true })
  })
}

const reach = (stream: Stream, id: number): Promise<void> =>
  stream.ids.includes(id) ? Promise.resolve() : new Promise((resolve) => stream.waiters.push({ id, resolve }))

interface Writers {
  published: Array<{ id: number; version: string; sentAt: number }>
  failures: string[]
  stop(): Promise<void>
  reach(n: number, version?: string): Promise<void>
}

/** Two writers publishing back to back until stopped. */
function write(port: number): Writers {
  const published: Writers['published'] = []
  const failures: string[] = []
  const marks: Array<{ check: () => boolean; resolve: () => void }> = []
  let running = true
  const loop = async (): Promise<void> => {
    while (running) {
      const sentAt = performance.now()
      try {
        const res = await request(`http://127.0.0.1:${port}/publish`, { method: 'POST' })
        const body = await res.body.text()
        if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body}`)
        else published.push({ ...JSON.parse(body), sentAt })
      } catch (error) {
        failures.push(String(error))
      }
      for (const mark of marks.splice(0)) (mark.check() ? mark.resolve() : marks.push(mark))
    }
  }
  const loops = [loop(), loop()]
  return {
    published, failures,
    stop: async () => { running = false; await Promise.all(loops) },
    reach: (n, version) => new Promise((resolve) => {
      const check = (): boolean => published.filter((p) => version === undefined || p.version === version).length >= n
      if (check()) resolve()
      else marks.push({ check, resolve })
    }),
  }
}

const runs = [
  { mode: 'continue', outcome: 'committed' },
  { mode: 'end', outcome: 'committed' },
  { mode: 'continue', outcome: 'rolled-back' },
] as const
for (const { mode, outcome } of runs) {
  const how = mode === 'continue' ? 'continued by the new version' : 'ended and reconnected'
  t.test(`${STREAMS} open SSE streams under write load, then ${outcome === 'committed' ? `a commit (streams ${how})` : 'a rollback'}`, async (t) => {
    const sup = await runSupervised(fixture('sse-feed.js'), ['--version-label', '1.0.0'], mode === 'continue' ? { DSU_TEST_SSE: 'continue' } : {})
    const streams = await Promise.all(Array.from({ length: STREAMS }, () => open(sup.port)))
    const writers = write(sup.port)
    t.teardown(async () => {
      await writers.stop()
      for (const s of streams) s.source.close()
      await sup.stop()
    })
    t.equal((await getJson(sup.port, '/stats')).streams, STREAMS, `${STREAMS} streams open`)

    await writers.reach(50)
    const args = outcome === 'committed' ? [] : ['--transformer', fixture('throwing-transform.js')]
    const up = await dsu(['upgrade', '--to', fixture('sse-feed.js'), '--version-label', '2.0.0', ...args, '--state-dir', sup.stateDir, '--json'])
    const result = JSON.parse(up.stdout)
    t.equal(result.outcome, outcome, `the upgrade ${outcome}: ${up.stderr}`)
    const version = outcome === 'committed' ? '2.0.0' : '1.0.0'
    await writers.reach(writers.published.length + 50, version)
    await writers.stop()

    // One last event, then every stream must have every id from 1 to it.
    const last = JSON.parse(await (await request(`http://127.0.0.1:${sup.port}/publish`, { method: 'POST' })).body.text())
    await Promise.all(streams.map((s) => reach(s, last.id)))
    const all = Array.from({ length: last.id }, (_, i) => i + 1)
    const gaps = streams.filter((s) => s.ids.length !== all.length || s.ids.some((id, i) => id !== i + 1))
    t.equal(gaps.length, 0, `every stream saw ids 1..${last.id} exactly once, in order`)
    t.same(writers.failures, [], 'no publish failed')
    t.equal(streams.filter((s) => s.closedForGood).length, 0, 'no stream failed for good')
    const failed = streams.flatMap((s) => s.errors.filter((m) => m !== undefined))
    t.same(failed, [], 'no stream saw an error other than a clean reconnect')
    const reconnects = streams.reduce((n, s) => n + s.errors.length, 0)
    if (outcome === 'rolled-back') t.equal(reconnects, 0, 'after a rollback the streams simply continue')
    else if (mode === 'continue') t.equal(reconnects, 0, 'no stream saw an error event or a reconnect: each went on on its connection')
    else t.equal(reconnects, STREAMS, 'each stream was ended once, cleanly, at commit and reconnected')
    t.equal((await getJson(sup.port, '/stats')).streams, STREAMS, `${STREAMS} streams open afterwards, on ${version}`)

    // The longest any stream waited for an event, from its publish request to its arrival.
    let longest = 0
    for (const p of [...writers.published, { ...last, sentAt: Number.NaN }]) {
      if (Number.isNaN(p.sentAt)) continue
      for (const s of streams) longest = Math.max(longest, (s.receivedAt.get(p.id) ?? 0) - p.sentAt)
    }
    t.comment(`${mode}, ${outcome}: pause ${result.pauseMs?.toFixed(1)} ms (quiesce ${result.phases?.quiesce?.toFixed(1)} ms), ` +
      `${writers.published.length + 1} events to ${STREAMS} streams, longest client-seen event delay ${longest.toFixed(1)} ms, ${reconnects} clean reconnects, ${result.connectionsMoved ?? 0} connections moved`)
  })
}

t.test('SSE streams continued through two upgrades in a row (each version marks the streams it adopted)', async (t) => {
  const sup = await runSupervised(fixture('sse-feed.js'), ['--version-label', '1.0.0'], { DSU_TEST_SSE: 'continue' })
  const streams = await Promise.all(Array.from({ length: 20 }, () => open(sup.port)))
  const writers = write(sup.port)
  t.teardown(async () => {
    await writers.stop()
    for (const s of streams) s.source.close()
    await sup.stop()
  })
  await writers.reach(20)
  for (const version of ['2.0.0', '3.0.0']) {
    const up = await dsu(['upgrade', '--to', fixture('sse-feed.js'), '--version-label', version, '--state-dir', sup.stateDir, '--json'])
    const result = JSON.parse(up.stdout)
    t.equal(result.outcome, 'committed', `upgraded to ${version}: ${up.stderr}`)
    t.comment(`to ${version}: pause ${result.pauseMs?.toFixed(1)} ms, ${result.connectionsMoved} connections moved`)
    await writers.reach(20, version)
  }
  await writers.stop()
  const last = JSON.parse(await (await request(`http://127.0.0.1:${sup.port}/publish`, { method: 'POST' })).body.text())
  await Promise.all(streams.map((s) => reach(s, last.id)))
  t.equal(streams.filter((s) => s.ids.length !== last.id || s.ids.some((id, i) => id !== i + 1)).length, 0, `every stream saw ids 1..${last.id} exactly once, in order`)
  t.same(writers.failures, [], 'no publish failed')
  t.equal(streams.reduce((n, s) => n + s.errors.length, 0), 0, 'no error event, no reconnect, through both upgrades')
  t.same(await getJson(sup.port, '/stats'), { version: '3.0.0', streams: 20, events: last.id }, 'all 20 streams continued by 3.0.0')
})

// The streams' handles go to the new version during the pause, while the
// state is transferred (connection hand-over ahead): a rollback must leave
// every stream with the old version, on the same connection, and the next
// upgrade must move them again. One supervisor, 100 continued streams under
// write load: a commit, a rollback (the transformer throws, after the
// streams were sent ahead), then another commit.
t.test(`${STREAMS} continued SSE streams through a commit, a rolled-back upgrade and another commit`, async (t) => {
  const sup = await runSupervised(fixture('sse-feed.js'), ['--version-label', '1.0.0'], { DSU_TEST_SSE: 'continue' })
  const streams = await Promise.all(Array.from({ length: STREAMS }, () => open(sup.port)))
  const writers = write(sup.port)
  t.teardown(async () => {
    await writers.stop()
    for (const s of streams) s.source.close()
    await sup.stop()
  })
  await writers.reach(30)
  const steps = [
    { to: '2.0.0', args: [], outcome: 'committed', serving: '2.0.0' },
    { to: '3.0.0', args: ['--transformer', fixture('throwing-transform.js')], outcome: 'rolled-back', serving: '2.0.0' },
    { to: '3.0.0', args: [], outcome: 'committed', serving: '3.0.0' },
  ]
  for (const step of steps) {
    const up = await dsu(['upgrade', '--to', fixture('sse-feed.js'), '--version-label', step.to, ...step.args, '--state-dir', sup.stateDir, '--json'])
    const result = JSON.parse(up.stdout)
    t.equal(result.outcome, step.outcome, `upgrade to ${step.to} ${step.outcome}: ${up.stderr}`)
    t.comment(`to ${step.to}, ${result.outcome}: pause ${result.pauseMs?.toFixed(1)} ms, ${result.connectionsMoved} connections moved`)
    // Events published after it, by the version now serving, reach every stream.
    await writers.reach(writers.published.filter((p) => p.version === step.serving).length + 30, step.serving)
  }
  await writers.stop()
  const last = JSON.parse(await (await request(`http://127.0.0.1:${sup.port}/publish`, { method: 'POST' })).body.text())
  await Promise.all(streams.map((s) => reach(s, last.id)))
  const gaps = streams.filter((s) => s.ids.length !== last.id || s.ids.some((id, i) => id !== i + 1))
  t.equal(gaps.length, 0, `every stream saw ids 1..${last.id} exactly once, in order`)
  t.same(writers.failures, [], 'no publish failed')
  t.equal(streams.reduce((n, s) => n + s.errors.length, 0), 0, 'no error event and no reconnect on any stream, through all three')
  t.same(await getJson(sup.port, '/stats'), { version: '3.0.0', streams: STREAMS, events: last.id }, `all ${STREAMS} streams continued by 3.0.0`)
})
