// Shared helpers of the benchmark suite: settings, progress lines, statistics,
// /proc readings, child processes and bounded autocannon loads.
import fs from 'node:fs'
import path from 'node:path'
import { execa, type ResultPromise } from 'execa'
import autocannon from 'autocannon'
import { dsu, root } from '../harness.js'

export const quick = process.env.DSU_BENCH_QUICK === '1'
export const benchDir = path.join(root, 'integration/bench')
export const benchApp = (name: string): string => path.join(benchDir, 'apps', name)

const started = performance.now()
export const elapsedS = (): number => (performance.now() - started) / 1000
export function progress(message: string): void {
  process.stderr.write(`[bench ${elapsedS().toFixed(1).padStart(6)} s] ${message}\n`)
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = xs.slice().sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = Float64Array.from(xs).sort()
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** VmRSS / VmHWM of a process in bytes, or null once it is gone (or a zombie). */
export function procMemory(pid: number): { rss: number; hwm: number } | null {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const kb = (field: string): number | null => {
    const m = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) * 1024 : null
  }
  const rss = kb('VmRSS')
  const hwm = kb('VmHWM')
  return rss === null || hwm === null ? null : { rss, hwm }
}

/** CPU time (user + system) a process has used so far, in ms (clock ticks of 10 ms), or NaN once it is gone. */
export function procCpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

/** Runs the built CLI and parses its one JSON object. */
export async function dsuJson(args: string[]): Promise<any> {
  const r = await dsu([...args, '--json'])
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`dsu ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`)
  }
}

export async function upgradeOnce(stateDir: string, entry: string, extra: string[] = []): Promise<any> {
  const result = await dsuJson(['upgrade', '--to', entry, '--state-dir', stateDir, '--timeout', '120000', ...extra])
  if (result.outcome !== 'committed') throw new Error(`upgrade did not commit: ${JSON.stringify(result)}`)
  return result
}

/**
 * A plain `node` child that prints `listening on http://127.0.0.1:<port>`.
 * `detached`: in its own session, as `dsu run` starts its program; with the
 * kernel's autogroup scheduling a session is its own scheduling group, which
 * alone changes a server's CPU per request under load by 10-20 % here.
 */
export async function startPlain(args: string[], env: Record<string, string> = {}, detached = false): Promise<{ child: ResultPromise; port: number; pid: number; stop(): Promise<void> }> {
  const child = execa(process.execPath, args, { env, reject: false, stdin: 'ignore', all: true, buffer: false, detached })
  const port = await waitForLine(child, /listening on http:\/\/127\.0\.0\.1:(\d+)/).then((m) => Number(m[1]))
  return {
    child, port, pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM')
      await child
    },
  }
}

/** Resolves with the first match of `pattern` in the child's stdout+stderr (needs `all: true`). */
export function waitForLine(child: ResultPromise, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = ''
    const onData = (chunk: Buffer | string): void => {
      text += String(chunk)
      const m = text.match(pattern)
      if (m) {
        child.all!.off('data', onData)
        resolve(m)
      }
    }
    child.all!.on('data', onData)
    void child.then(() => reject(new Error(`process exited before printing ${pattern}:\n${text}`)))
  })
}

export interface Load {
  /** performance.now() of every 2xx response, in order. */
  stamps: number[]
  /** Response time of every 2xx response in ms (float; autocannon's own histogram has 1 ms steps). */
  latencies: number[]
  stop(): Promise<autocannon.Result>
  done: Promise<autocannon.Result>
}

/** A keep-alive load that stops by itself after `seconds` (or earlier through stop()). */
export function startLoad(port: number, seconds: number, connections = 10, method: 'GET' | 'POST' = 'GET'): Load {
  const stamps: number[] = []
  const latencies: number[] = []
  let finish!: (r: autocannon.Result) => void
  let fail!: (e: Error) => void
  const done = new Promise<autocannon.Result>((resolve, reject) => { finish = resolve; fail = reject })
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`, connections, pipelining: 1, method,
    duration: seconds, timeout: 30, // no `amount`: autocannon ignores duration when it is set
  }, (error: Error | null, result: autocannon.Result) => (error ? fail(error) : finish(result)))
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode < 200 || statusCode >= 300) return
    stamps.push(performance.now())
    latencies.push(responseTime)
  })
  return {
    stamps, latencies, done,
    stop: () => {
      instance.stop()
      return done
    },
  }
}

/** Longest gap between consecutive responses that overlaps [from, to]. */
export function longestGap(stamps: number[], from: number, to: number): number {
  let gap = 0
  for (let i = 1; i < stamps.length; i++) {
    if (stamps[i]! < from || stamps[i - 1]! > to) continue
    gap = Math.max(gap, stamps[i]! - stamps[i - 1]!)
  }
  return gap
}

export const fmtMs = (x: number): string => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–')
export const fmtMB = (bytes: number): string => (Number.isFinite(bytes) ? (bytes / 1e6).toFixed(bytes < 1e6 ? 3 : 1) : '–')
export const fmtBytes = (n: number): string => (n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`)
export const fmtCount = (n: number): string => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n))
