// Memory: supervisor RSS, the program's RSS with and without the runtime, and
// the peak RSS (VmHWM) of v1 and v2 around one large state transfer.
import { runSupervised } from '../harness.js'
import { benchApp, dsuJson, fmtCount, median, procMemory, progress, sleep, startPlain, upgradeOnce } from './common.js'

export interface IdleMemory {
  /** VmRSS bytes, one per start. */
  plainNode: number[] // hello-plain.js under node
  dsuNode: number[] // hello-dsu.js under node (runtime loaded, unsupervised)
  dsuSupervised: number[] // hello-dsu.js under dsu run (the program process)
  supervisor: number[] // the dsu run process itself
}

export interface PeakMemory {
  records: number
  bytes: number
  v1RssBefore: number
  v1HwmBefore: number
  v1HwmAtExit: number
  v2Hwm: number
  v2RssAfter: number
  supervisorRssAfter: number
  supervisorHwm: number
}

const IDLE_MS = 1000

export async function idleMemory(starts: number): Promise<IdleMemory> {
  const out: IdleMemory = { plainNode: [], dsuNode: [], dsuSupervised: [], supervisor: [] }
  for (let i = 0; i < starts; i++) {
    progress(`memory: idle RSS, start ${i + 1}/${starts}`)
    for (const [name, app] of [['plainNode', 'hello-plain.js'], ['dsuNode', 'hello-dsu.js']] as const) {
      const p = await startPlain([benchApp(app)])
      await sleep(IDLE_MS)
      out[name].push(procMemory(p.pid)?.rss ?? NaN)
      await p.stop()
    }
    const sup = await runSupervised(benchApp('hello-dsu.js'))
    try {
      await sleep(IDLE_MS)
      const s = await dsuJson(['status', '--state-dir', sup.stateDir])
      out.dsuSupervised.push(procMemory(s.pid)?.rss ?? NaN)
      out.supervisor.push(procMemory(s.supervisorPid)?.rss ?? NaN)
    } finally {
      await sup.stop()
    }
  }
  return out
}

export async function peakMemory(records: number): Promise<PeakMemory> {
  progress(`memory: peak RSS around a ${fmtCount(records)}-record upgrade`)
  const entry = benchApp('records.js')
  const sup = await runSupervised(entry, ['--timeout', '120000'], { DSU_BENCH_RECORDS: String(records) })
  try {
    await sleep(IDLE_MS)
    const before = await dsuJson(['status', '--state-dir', sup.stateDir])
    const v1 = procMemory(before.pid)!
    // Poll v1 until it is gone: its last VmHWM is its peak through the transfer.
    let last = v1
    const poller = (async () => {
      for (const deadline = performance.now() + 180_000; performance.now() < deadline; await sleep(10)) {
        const m = procMemory(before.pid)
        if (!m) return
        last = m
      }
    })()
    const result = await upgradeOnce(sup.stateDir, entry)
    await poller
    const after = await dsuJson(['status', '--state-dir', sup.stateDir])
    const v2 = procMemory(after.pid)!
    const supMem = procMemory(after.supervisorPid)!
    return {
      records, bytes: result.state?.bytes ?? 0,
      v1RssBefore: v1.rss, v1HwmBefore: v1.hwm, v1HwmAtExit: last.hwm,
      v2Hwm: v2.hwm, v2RssAfter: v2.rss, supervisorRssAfter: supMem.rss, supervisorHwm: supMem.hwm,
    }
  } finally {
    await sup.stop()
  }
}

/** Transfer cost per process, upper bounds: v1 peak − v1 RSS before; v2 peak − v1 RSS before (same live state). */
export function peakExtra(p: PeakMemory): { v1: number; v2: number } {
  return { v1: p.v1HwmAtExit - p.v1RssBefore, v2: p.v2Hwm - p.v1RssBefore }
}

export const idleMedians = (m: IdleMemory): Record<keyof IdleMemory, number> => ({
  plainNode: median(m.plainNode), dsuNode: median(m.dsuNode), dsuSupervised: median(m.dsuSupervised), supervisor: median(m.supervisor),
})
