// UDP datagrams lost across an upgrade, against the datagram rate (issue 9
// item 5). A real dgram client sends "hits:1|c" to the statsd-style counter
// (fixtures/statsd.js) at a fixed rate for a window with one upgrade in the
// middle; lost = sent − counted. The old version stops reading at quiesce and
// the new one reads from commit on, so a datagram is lost only when the
// kernel's receive buffer overflows during the pause: the buffer holds about
// rcvbuf / 832 B of these small datagrams (measured first, below), so the
// rate it holds is that number over the pause. Each rate also runs once
// without an upgrade, to separate an overloaded receiver from the pause.
// A benchmark, not a test: it writes integration/bench/UDP.md.
//   node dist/integration/bench/udp-loss.js
import dgram from 'node:dgram'
import fs from 'node:fs'
import path from 'node:path'
import { dsu, fixture, getJson, runSupervised, type Supervised } from '../harness.js'
import { benchDir, progress } from './common.js'

const RATES = (process.env.DSU_UDP_RATES ?? '1000,2000,5000,10000,20000,40000').split(',').map(Number)
const WINDOW_MS = 1500
const entry = fixture('statsd.js')

/** How many of these datagrams a socket's buffer holds while nobody reads it. */
async function capacity(rcvbuf: number): Promise<{ bytes: number; held: number }> {
  const receiver = dgram.createSocket({ type: 'udp4', ...(rcvbuf > 0 ? { recvBufferSize: rcvbuf } : {}) })
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve))
  const state = (receiver as unknown as Record<symbol, { handle: { recvStop(): void; recvStart(): void } }>)[
    Object.getOwnPropertySymbols(receiver).find((s) => s.description === 'state symbol')!]!
  state.handle.recvStop()
  const sender = dgram.createSocket('udp4')
  const n = 40_000
  for (let i = 0; i < n; i++) await new Promise((resolve) => sender.send('hits:1|c', receiver.address().port, '127.0.0.1', resolve))
  let held = 0
  receiver.on('message', (m) => { if (String(m) !== 'end') held++ })
  state.handle.recvStart()
  // Read until a marker sent after the backlog arrives (read after it). The
  // buffer is full when reads restart: the marker is sent again every
  // millisecond until one finds room.
  await new Promise<void>((resolve) => {
    const again = setInterval(() => sender.send('end', receiver.address().port, '127.0.0.1'), 1)
    receiver.on('message', (m) => {
      if (String(m) !== 'end') return
      clearInterval(again)
      resolve()
    })
  })
  const bytes = receiver.getRecvBufferSize()
  sender.close()
  receiver.close()
  return { bytes, held }
}

interface Run { rate: number; upgrade: boolean; sent: number; counted: number; achieved: number; pauseMs: number | null }

async function hits(sup: Supervised): Promise<{ hits: number; done: number }> {
  const c = (await getJson(sup.port, '/')).counters
  return { hits: c.hits ?? 0, done: c.done ?? 0 }
}

async function run(sup: Supervised, udpPort: number, rate: number, upgrade: boolean, label: string): Promise<Run> {
  const before = await hits(sup)
  const client = dgram.createSocket('udp4')
  let sent = 0
  const t0 = performance.now()
  let upgrading: Promise<{ stdout: string }> | null = null
  // Sends whatever the rate owes by now, every tick, so a late timer catches up.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - t0
      const owed = Math.min(Math.floor((elapsed * rate) / 1000), Math.floor((WINDOW_MS * rate) / 1000))
      while (sent < owed) {
        client.send('hits:1|c', udpPort, '127.0.0.1')
        sent++
      }
      if (upgrade && upgrading === null && elapsed > WINDOW_MS / 3) {
        upgrading = dsu(['upgrade', '--to', entry, '--version-label', label, '--state-dir', sup.stateDir, '--json'])
      }
      if (elapsed >= WINDOW_MS && (!upgrade || upgrading !== null)) {
        clearInterval(timer)
        resolve()
      }
    }, 1)
  })
  const achieved = sent / ((performance.now() - t0) / 1000)
  const result = upgrading ? JSON.parse((await upgrading as { stdout: string }).stdout) : null
  if (result && result.outcome !== 'committed') throw new Error(`upgrade ${result.outcome}: ${JSON.stringify(result.error)}`)
  // A marker after the last datagram; it may itself be dropped when the
  // buffer overflows, so give up waiting for it after a second.
  await new Promise((resolve) => client.send('done:1|c', udpPort, '127.0.0.1', resolve))
  client.close()
  const until = performance.now() + 1000
  let after = await hits(sup)
  while (after.done === before.done && performance.now() < until) after = await hits(sup)
  return { rate, upgrade, sent, counted: after.hits - before.hits, achieved, pauseMs: result?.pauseMs ?? null }
}

const lines: string[] = []
let version = 1
for (const rcvbuf of [0, 4 << 20]) {
  const cap = await capacity(rcvbuf)
  progress(`udp: receive buffer ${cap.bytes} B holds ${cap.held} datagrams`)
  const sup = await runSupervised(entry, ['--version-label', `${version}.0.0`], rcvbuf > 0 ? { DSU_TEST_RCVBUF: String(rcvbuf) } : {})
  try {
    const udpPort = (await getJson(sup.port, '/')).udpPort as number
    lines.push('', `Receive buffer ${cap.bytes} B (${rcvbuf > 0 ? `recvBufferSize ${rcvbuf}` : 'Linux default'}): holds ${cap.held} datagrams of 8 B.`, '',
      '| rate (/s) | sent at (/s) | upgrade | pause (ms) | sent | counted | lost |', '|---|---|---|---|---|---|---|')
    for (const rate of RATES) {
      for (const upgrade of [false, true]) {
        const r = await run(sup, udpPort, rate, upgrade, `${++version}.0.0`)
        const lost = r.sent - r.counted
        progress(`udp: ${rate}/s ${upgrade ? 'upgrade' : 'no upgrade'}: sent ${r.sent}, lost ${lost}, pause ${r.pauseMs?.toFixed(1) ?? '-'} ms`)
        lines.push(`| ${rate} | ${Math.round(r.achieved)} | ${upgrade ? 'yes' : 'no'} | ${r.pauseMs === null ? '–' : r.pauseMs.toFixed(1)} | ${r.sent} | ${r.counted} | ${lost} |`)
      }
    }
  } finally {
    await sup.stop()
  }
}
const text = ['# UDP loss against datagram rate', '',
  `\`node dist/integration/bench/udp-loss.js\`, ${new Date().toISOString()}, Node ${process.version}: a dgram client sends for ${WINDOW_MS} ms at each rate,`,
  'once without and once with an upgrade of fixtures/statsd.js in the window; lost = sent − counted.', ...lines, ''].join('\n')
fs.writeFileSync(path.join(benchDir, 'UDP.md'), text)
process.stdout.write(text)
