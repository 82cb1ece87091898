// make demo: a live upgrade v1 → v2 → v3 of the counter app under load,
// showing the state carried over and the clients' error count.
//
// It checks what it shows and exits 0 only when all of it held: each upgrade
// committed, the state came along (no counter went down, and every
// acknowledged increment is in the final state), and the clients saw no error.
// Anything else ends it with a message and exit 1. Every wait is bounded (the
// load by a duration, the whole demo by a deadline), and no wait is for an
// event that may have fired already: the supervisor's exit is a promise taken
// when it is spawned.
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cli = path.join(root, 'dist/cli/main.js')
const app = (v) => path.join(root, 'integration/apps/counter', v, 'server.js')
const say = (line) => console.log(`\x1b[1m▶ ${line}\x1b[0m`)
const run = promisify(execFile)

/** Acknowledged requests between two steps of the demo. */
const STEP = 5_000
const CONNECTIONS = 24
/** The whole demo, on a slow or busy machine included. */
const DEADLINE_MS = 120_000

class DemoFailure extends Error {}
const check = (ok, message) => {
  if (!ok) throw new DemoFailure(message)
}

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-demo-'))
let sup = null
let supExited = null
let load = null

async function main() {
  say(`dsu run ${path.relative(root, app('v1'))}`)
  sup = spawn(process.execPath, [cli, 'run', app('v1'), '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  supExited = new Promise((resolve) => sup.once('exit', (code, signal) => resolve({ code, signal })))
  const port = await new Promise((resolve, reject) => {
    let text = ''
    sup.stdout.on('data', (d) => {
      process.stdout.write(d)
      text += d
      const m = text.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)
      if (m) resolve(Number(m[1]))
    })
    void supExited.then(({ code, signal }) => reject(new DemoFailure(`dsu run exited (${signal ?? `code ${code}`}) before the program listened`)))
  })
  const getState = async () => (await fetch(`http://127.0.0.1:${port}/state`)).json()

  say(`load: autocannon, ${CONNECTIONS} keep-alive connections, POST /inc/hits`)
  load = startLoad(port)
  const upgrade = async (to, version) => {
    say(`dsu upgrade --to ${path.relative(root, to)}`)
    const before = await getState()
    try {
      // Asynchronous, so the load keeps running in this process during the upgrade.
      const { stdout } = await run(process.execPath, [cli, 'upgrade', '--to', to, '--state-dir', stateDir])
      process.stdout.write(stdout)
    } catch (error) {
      process.stdout.write(error.stdout ?? '')
      throw new DemoFailure(`dsu upgrade --to ${path.relative(root, to)} failed (exit ${error.code}):\n${error.stderr ?? error.message}`)
    }
    const after = await getState()
    console.log('state after: ', JSON.stringify(after))
    check(after.version === version, `after the upgrade the server reports version ${after.version}, not ${version}`)
    check(after.counters.hits >= before.counters.hits, `the state was not carried over: hits went from ${before.counters.hits} to ${after.counters.hits}`)
  }

  await load.reach(STEP)
  console.log('state before:', JSON.stringify(await getState()))
  await upgrade(app('v2'), 2)
  await load.reach(STEP)
  await upgrade(app('v3'), 3)
  await load.reach(STEP)
  const result = await load.stop()
  const final = await getState()
  say('result')
  console.log(`requests answered 2xx: ${load.ok()}; errors: ${result.errors}; timeouts: ${result.timeouts}; non-2xx: ${result.non2xx}`)
  console.log(`final state (v${final.version}): hits = ${final.counters.hits} (acknowledged ${load.ok()}; the stop may abort at most one request per connection)`)
  check(!result.errors && !result.timeouts && !result.non2xx, 'the clients saw errors during the upgrades')
  check(final.counters.hits >= load.ok(), `an acknowledged increment was lost: ${final.counters.hits} < ${load.ok()}`)

  say('dsu history')
  process.stdout.write((await run(process.execPath, [cli, 'history', '--state-dir', stateDir])).stdout)
  await run(process.execPath, [cli, 'stop', '--state-dir', stateDir])
  const exit = await supExited
  check(exit.code === 0, `dsu run exited with ${exit.signal ?? `code ${exit.code}`} after dsu stop`)
}

/** POSTs from autocannon until stopped (at most DEADLINE_MS); counts the 200s. */
function startLoad(port) {
  let ok = 0
  let ended = false
  const marks = new Set()
  let finished
  const done = new Promise((resolve, reject) => (finished = { resolve, reject }))
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`, connections: CONNECTIONS,
    // Stopped by the demo once it has seen enough; the duration is the bound
    // if it never does. (A request count is no bound to rely on: the load
    // keeps going during the upgrades, which take longer on a busy machine.)
    duration: DEADLINE_MS / 1000,
    requests: [{ method: 'POST', path: '/inc/hits', onResponse: (status) => {
      if (status !== 200) return
      ok++
      for (const m of marks) if (ok >= m.n) m.resolve()
    } }],
  }, (error, result) => {
    ended = true
    // A reach() still waiting will never be met: fail it rather than hang.
    for (const m of marks) m.reject(new DemoFailure(`the load ended after ${ok} answered requests, before ${m.n}`))
    if (error) finished.reject(error)
    else finished.resolve(result)
  })
  return {
    ok: () => ok,
    /** Resolves once `n` more requests have been answered. */
    reach: (n) => new Promise((resolve, reject) => {
      const mark = { n: ok + n, resolve: () => { marks.delete(mark); resolve() }, reject }
      if (ended) return reject(new DemoFailure(`the load ended after ${ok} answered requests`))
      marks.add(mark)
    }),
    stop: () => {
      if (!ended) instance.stop()
      return done
    },
  }
}

async function cleanUp() {
  if (load) await load.stop().catch(() => {})
  if (sup && sup.exitCode === null && sup.signalCode === null) {
    sup.kill('SIGTERM') // dsu run stops its program gracefully on SIGTERM
    await supExited
  }
  fs.rmSync(stateDir, { recursive: true, force: true })
}

const deadline = setTimeout(() => {
  console.error(`demo failed: not finished within ${DEADLINE_MS / 1000} s`)
  if (sup && sup.exitCode === null) sup.kill('SIGKILL')
  fs.rmSync(stateDir, { recursive: true, force: true })
  process.exit(1)
}, DEADLINE_MS)

let code = 0
try {
  await main()
} catch (error) {
  console.error(`demo failed: ${error instanceof DemoFailure ? error.message : error.stack ?? error}`)
  code = 1
}
await cleanUp()
clearTimeout(deadline)
process.exit(code)
