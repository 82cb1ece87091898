// Test harness: runs the built CLI the way a user does, against real program
// processes on 127.0.0.1 port 0, with a temporary state directory.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type ResultPromise } from 'execa'
import { request } from 'undici'
import autocannon from 'autocannon'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const cli = path.join(root, 'dist/cli/main.js')
export const app = (name: string): string => path.join(root, 'integration/apps', name)
export const fixture = (name: string): string => path.join(root, 'integration/fixtures', name)

export interface Supervised {
  port: number
  stateDir: string
  process: ResultPromise
  /** Everything the supervisor and its programs printed so far. */
  output(): string
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>
  stop(): Promise<void>
}

/**
 * `options.through`: a command line that runs the supervisor's node command
 * given after it (e.g. `sh -c 'ulimit -f 2048; exec "$0" "$@"'`), for limits
 * the supervisor must run under.
 */
export async function runSupervised(entry: string, args: string[] = [], env: Record<string, string> = {}, stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-test-')), options: { through?: string[] } = {}): Promise<Supervised> {
  const sup = await supervise(['run', entry, '--state-dir', stateDir, ...args], { env, stopArgs: ['--state-dir', stateDir], through: options.through ?? [] })
  return { ...sup, stateDir, stop: async () => {
    await sup.stop()
    fs.rmSync(stateDir, { recursive: true, force: true })
  } }
}

/**
 * `dsu run` started the way an operator does, with no --state-dir: from `cwd`
 * (and $PWD = cwd, as a shell sets it), so the state dir is found by the
 * defaults. `stateDir` is read from the supervisor's start line.
 */
export async function runFrom(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Supervised> {
  const sup = await supervise(args, { cwd, env: { PWD: cwd, ...env }, stopArgs: args.includes('--name') ? ['--name', args[args.indexOf('--name') + 1]!] : [], through: [] })
  const socket = (await sup.waitForOutput(/control socket (\S+)/))[1]!
  return { ...sup, stateDir: path.dirname(socket) }
}

/**
 * The combined output of a CLI process started with `all: true, buffer: false`,
 * collected as it comes, and a wait for a line matching a pattern (rejected,
 * with the output, if the process exits first).
 */
export function watchOutput(child: ResultPromise, who = 'the process'): { output(): string; waitForOutput(pattern: RegExp): Promise<RegExpMatchArray> } {
  let text = ''
  const waiters = new Set<() => void>()
  child.all!.setEncoding('utf8')
  child.all!.on('data', (chunk: string) => {
    text += chunk
    if (process.env.DSU_TEST_VERBOSE) process.stderr.write(chunk)
    for (const w of waiters) w()
  })
  const waitForOutput = (pattern: RegExp): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const m = text.match(pattern)
      if (!m) return
      waiters.delete(check)
      resolve(m)
    }
    waiters.add(check)
    check()
    void child.then(() => {
      if (!waiters.delete(check)) return
      reject(new Error(`${who} exited before printing ${pattern}; output:\n${text}`))
    })
  })
  return { output: () => text, waitForOutput }
}

async function supervise(args: string[], options: { cwd?: string; env: Record<string, string>; stopArgs: string[]; through: string[] }): Promise<Supervised> {
  const command = [...options.through, process.execPath, cli, ...args]
  const child = execa(command[0]!, command.slice(1), {
    reject: false, stdin: 'ignore', all: true, buffer: false, env: options.env, cwd: options.cwd ?? root,
  })
  const { output, waitForOutput } = watchOutput(child, 'supervisor')
  const m = await waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)/)
  let stopped = false
  return {
    port: Number(m[1]),
    stateDir: '',
    process: child,
    output,
    waitForOutput,
    stop: async () => {
      if (stopped) return
      stopped = true
      if (child.exitCode === null) {
        await dsu(['stop', ...options.stopArgs], { ...(options.cwd ? { cwd: options.cwd } : {}), env: options.env })
        await child
      }
    },
  }
}

/**
 * A fixture's gate and mark files (DSU_TEST_GATE, DSU_TEST_MARK) in a fresh
 * temporary directory, removed at teardown: the fixture touches the mark when
 * it reaches its point and waits there until the test creates the gate.
 */
export function gates(t: { teardown(fn: () => void): void }): { gate: string; mark: string; env: Record<string, string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-gate-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const gate = path.join(dir, 'gate')
  const mark = path.join(dir, 'mark')
  return { gate, mark, env: { DSU_TEST_GATE: gate, DSU_TEST_MARK: mark } }
}

/** Resolves once `file` exists: a fixture's signal that it reached a point (watched, not polled). */
export function fileExists(file: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!fs.existsSync(file)) return
      watcher.close()
      resolve()
    }
    const watcher = fs.watch(path.dirname(file), check)
    check()
  })
}

export interface CliResult { exitCode: number; stdout: string; stderr: string }

export async function dsu(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const cwd = options.cwd ?? root
  const r = await execa(process.execPath, [cli, ...args], { reject: false, cwd, stdin: 'ignore', env: { PWD: cwd, ...options.env } })
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
}

export async function getJson(port: number, urlPath: string): Promise<any> {
  const res = await request(`http://127.0.0.1:${port}${urlPath}`)
  if (res.statusCode !== 200) throw new Error(`GET ${urlPath}: ${res.statusCode}`)
  return res.body.json()
}

export async function post(port: number, urlPath: string): Promise<{ status: number; body: any }> {
  const res = await request(`http://127.0.0.1:${port}${urlPath}`, { method: 'POST' })
  const text = await res.body.text()
  return { status: res.statusCode, body: res.statusCode === 200 ? JSON.parse(text) : text }
}

export interface Load {
  /** Successful responses so far. */
  ok(): number
  /** Resolves once `n` responses in all have succeeded. */
  reach(n: number): Promise<void>
  /** Stops the load and resolves with autocannon's result. */
  stop(): Promise<autocannon.Result>
  /** Values of `"version"` seen in the JSON response bodies. */
  versions: Set<unknown>
  /** Bodies of every successful response, when `keepBodies` is set. */
  bodies: string[]
}

/**
 * A bounded keep-alive load (autocannon) of POSTs to `path`: it stops when
 * told to, or by itself after `amount` requests or `duration` seconds. With
 * `rate`, requests are paced to that many per second over all connections.
 * A `reach` that the load can no longer satisfy (it ended, or autocannon
 * failed) rejects, naming how far it got, instead of waiting forever.
 */
export function startLoad(port: number, options: { path: string; connections?: number; keepBodies?: boolean; amount?: number; duration?: number; rate?: number }): Load {
  let ok = 0
  let ended: Error | undefined
  const marks = new Set<{ n: number; resolve: () => void; reject: (error: Error) => void }>()
  const versions = new Set<unknown>()
  const bodies: string[] = []
  let finished!: { resolve: (result: autocannon.Result) => void; reject: (error: Error) => void }
  const done = new Promise<autocannon.Result>((resolve, reject) => (finished = { resolve, reject }))
  // A stop() that nobody awaits must not turn a failed load into an unhandled rejection.
  done.catch(() => {})
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections ?? 20,
    pipelining: 1,
    amount: options.amount ?? (options.rate === undefined ? 2_000_000 : undefined),
    duration: options.duration ?? 120,
    timeout: 10,
    ...(options.rate === undefined ? {} : { overallRate: options.rate }),
    requests: [{
      method: 'POST',
      path: options.path,
      onResponse: (status: number, body: string) => {
        if (status !== 200) return
        ok++
        if (options.keepBodies) {
          bodies.push(body)
          versions.add((JSON.parse(body) as { version?: unknown }).version)
        }
        for (const m of marks) if (ok >= m.n) m.resolve()
      },
    }],
  }, (error: Error | null, result: autocannon.Result) => {
    ended = error ?? new Error(`the load ended after ${ok} answered requests`)
    for (const m of marks) m.reject(new Error(`${ended.message}, before ${m.n}`))
    if (error) finished.reject(error)
    else finished.resolve(result)
  })
  return {
    ok: () => ok,
    reach: (n) => new Promise((resolve, reject) => {
      if (ok >= n) return resolve()
      if (ended) return reject(new Error(`${ended.message}, before ${n}`))
      const mark = { n, resolve: () => { marks.delete(mark); resolve() }, reject }
      marks.add(mark)
    }),
    stop: () => {
      if (!ended) instance.stop()
      return done
    },
    versions,
    bodies,
  }
}
