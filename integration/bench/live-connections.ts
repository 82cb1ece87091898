// Live connections across an upgrade, measured: the pause and the longest
// delay a client saw for a message, for six `ws` clients at 50 messages a
// second each (adoptWebSockets), and for 100 SSE streams under write load
// (streams continued by the new version, and streams ended and reconnected).
// Each scenario runs $DSU_BENCH_RUNS times (default 3); medians last.
// $DSU_BENCH_ONLY=text runs only the scenarios whose name contains it.
// `commit` is the time from the end of the pause until the old version has
// handed off every connection: the connections it did not send ahead during
// the pause (or that were still on their way) move then, while the new
// version already serves.
//   node dist/integration/bench/live-connections.js
import os from 'node:os'
import WebSocket from 'ws'
import { request } from 'undici'
import { EventSource } from 'eventsource'
import { dsu, fixture, runSupervised } from '../harness.js'
import { median, progress } from './common.js'

const RUNS = Number(process.env.DSU_BENCH_RUNS ?? 3)
const WS_CLIENTS = 6
const WS_INTERVAL_MS = 20
const STREAMS = 100

interface Sample { phases: string; commitMs: number; pauseMs: number; longestMs: number; lost: number; closes: number; reconnects: number; gaps: number }

async function upgrade(stateDir: string, entry: string): Promise<{ pauseMs: number; commitMs: number; phases: string }> {
  const up = await dsu(['upgrade', '--to', entry, '--version-label', '2.0.0', '--state-dir', stateDir, '--json'])
  const result = JSON.parse(up.stdout)
  if (result.outcome !== 'committed') throw new Error(`upgrade ${result.outcome}: ${up.stderr}`)
  const phases = Object.entries(result.phases as Record<string, number>).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')
  return { pauseMs: result.pauseMs, commitMs: result.phases.commit, phases }
}

async function webSockets(): Promise<Sample> {
  const sup = await runSupervised(fixture('ws-adopt.js'), ['--version-label', '1.0.0'])
  const waiters: Array<() => void> = []
  const changed = (): void => { for (const w of waiters.splice(0)) w() }
  const clients = await Promise.all(Array.from({ length: WS_CLIENTS }, (_, i) => new Promise<{
    ws: WebSocket; sent: number; acked: number; sentAt: Map<number, number>; longest: number; closes: number; timer?: NodeJS.Timeout
  }>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${sup.port}/?name=b${i}`)
    const c = { ws, sent: 0, acked: 0, sentAt: new Map<number, number>(), longest: 0, closes: 0, timer: undefined as NodeJS.Timeout | undefined }
    ws.on('message', (data) => {
      const n = Number(String(data).split(' ')[1]!.split(':')[1])
      c.acked++
      c.longest = Math.max(c.longest, performance.now() - c.sentAt.get(n)!)
      changed()
    })
    ws.on('close', () => c.closes++)
    ws.once('open', () => {
      c.timer = setInterval(() => {
        const n = ++c.sent
        c.sentAt.set(n, performance.now())
        ws.send(`b${i}:${n}`)
      }, WS_INTERVAL_MS)
      resolve(c)
    })
    ws.once('error', reject)
  })))
  const until = async (check: (c: (typeof clients)[number]) => boolean): Promise<void> => {
    while (!clients.every(check)) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  try {
    await until((c) => c.acked >= 25)
    const { pauseMs, commitMs, phases } = await upgrade(sup.stateDir, fixture('ws-adopt.js'))
    const mark = clients.map((c) => c.acked)
    await until((c) => c.acked >= mark[clients.indexOf(c)]! + 25)
    for (const c of clients) clearInterval(c.timer)
    await until((c) => c.acked >= c.sent)
    return {
      phases, pauseMs, commitMs, longestMs: Math.max(...clients.map((c) => c.longest)), lost: clients.reduce((n, c) => n + c.sent - c.acked, 0),
      closes: clients.reduce((n, c) => n + c.closes, 0), reconnects: 0, gaps: 0,
    }
  } finally {
    for (const c of clients) c.ws.terminate()
    await sup.stop()
  }
}

async function sse(mode: 'continue' | 'end'): Promise<Sample> {
  const sup = await runSupervised(fixture('sse-feed.js'), ['--version-label', '1.0.0'], mode === 'continue' ? { DSU_TEST_SSE: 'continue' } : {})
  const waiters: Array<() => void> = []
  const changed = (): void => { for (const w of waiters.splice(0)) w() }
  const streams = await Promise.all(Array.from({ length: STREAMS }, () => new Promise<{
    source: EventSource; ids: number[]; at: Map<number, number>; errors: number
  }>((resolve, reject) => {
    const source = new EventSource(`http://127.0.0.1:${sup.port}/events`)
    const s = { source, ids: [] as number[], at: new Map<number, number>(), errors: 0 }
    source.onmessage = (event) => {
      const id = Number(event.lastEventId)
      s.ids.push(id)
      s.at.set(id, performance.now())
      changed()
    }
    source.onopen = () => resolve(s)
    source.onerror = () => { s.errors++ }
    source.addEventListener('error', () => reject(new Error('stream failed to open')), { once: true })
  })))
  for (const s of streams) s.errors = 0
  // Two writers publishing back to back, each event's publish time noted.
  const publishedAt = new Map<number, number>()
  let failures = 0
  let running = true
  const writer = async (): Promise<void> => {
    while (running) {
      const sentAt = performance.now()
      const res = await request(`http://127.0.0.1:${sup.port}/publish`, { method: 'POST' })
      const body = await res.body.text()
      if (res.statusCode === 200) publishedAt.set(JSON.parse(body).id, sentAt)
      else failures++
    }
  }
  const writers = [writer(), writer()]
  const published = async (n: number): Promise<void> => {
    while (publishedAt.size < n) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  try {
    await published(50)
    const { pauseMs, commitMs, phases } = await upgrade(sup.stateDir, fixture('sse-feed.js'))
    await published(publishedAt.size + 50)
    running = false
    await Promise.all(writers)
    const last = Math.max(...publishedAt.keys())
    while (!streams.every((s) => s.ids.includes(last))) await new Promise<void>((resolve) => waiters.push(resolve))
    let longest = 0
    for (const [id, sentAt] of publishedAt) for (const s of streams) longest = Math.max(longest, (s.at.get(id) ?? Infinity) - sentAt)
    const gaps = streams.filter((s) => s.ids.some((id, i) => id !== i + 1)).length
    return { phases, pauseMs, commitMs, longestMs: longest, lost: failures, closes: 0, reconnects: streams.reduce((n, s) => n + s.errors, 0), gaps }
  } finally {
    running = false
    for (const s of streams) s.source.close()
    await sup.stop()
  }
}

const scenarios: Array<{ name: string; run: () => Promise<Sample> }> = [
  { name: `${WS_CLIENTS} ws clients × 50 msg/s, adoptWebSockets`, run: webSockets },
  { name: `${STREAMS} SSE streams, continued (longLived data)`, run: () => sse('continue') },
  { name: `${STREAMS} SSE streams, ended + reconnect`, run: () => sse('end') },
]
const rows: string[] = []
const load = (): string => os.loadavg().map((n) => n.toFixed(1)).join(' ')
const loadBefore = load()
const only = process.env.DSU_BENCH_ONLY
for (const scenario of scenarios.filter((s) => !only || s.name.includes(only))) {
  const samples: Sample[] = []
  for (let i = 0; i < RUNS; i++) {
    const sample = await scenario.run()
    progress(`${scenario.name}, run ${i + 1}: pause ${sample.pauseMs.toFixed(1)} ms, longest ${sample.longestMs.toFixed(0)} ms, ` +
      `lost ${sample.lost}, closes ${sample.closes}, reconnects ${sample.reconnects}, streams with a gap ${sample.gaps} (phases: ${sample.phases})`)
    samples.push(sample)
  }
  const m = (f: (s: Sample) => number): number => median(samples.map(f))
  rows.push(`| ${scenario.name} | ${samples.map((s) => s.pauseMs.toFixed(0)).join(' / ')} | **${m((s) => s.pauseMs).toFixed(1)}** | ` +
    `${samples.map((s) => s.longestMs.toFixed(0)).join(' / ')} | **${m((s) => s.longestMs).toFixed(0)}** | ${m((s) => s.commitMs).toFixed(0)} | ` +
    `${samples.reduce((n, s) => n + s.lost, 0)} | ${samples.reduce((n, s) => n + s.closes, 0)} | ${samples.reduce((n, s) => n + s.reconnects, 0)} | ${samples.reduce((n, s) => n + s.gaps, 0)} |`)
}
console.log(`Load average ${loadBefore} before, ${load()} after (${os.cpus().length} cores).\n`)
console.log(`| scenario (${RUNS} runs) | pause, ms | median | longest client-seen delay, ms | median | commit, ms (median) | lost | closes | reconnects | gaps |`)
console.log('|---|---|---:|---|---:|---:|---:|---:|---:|---:|')
for (const row of rows) console.log(row)
