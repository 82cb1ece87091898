// make demo: a live upgrade v1 → v2 → v3 of the counter app under load,
// showing the state carried over and the clients' error count.
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
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-demo-'))
const say = (line) => console.log(`\x1b[1m▶ ${line}\x1b[0m`)

say(`dsu run ${path.relative(root, app('v1'))}`)
const sup = spawn(process.execPath, [cli, 'run', app('v1'), '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolve, reject) => {
  let text = ''
  sup.stdout.on('data', (d) => {
    process.stdout.write(d)
    text += d
    const m = text.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)
    if (m) resolve(Number(m[1]))
  })
  sup.once('exit', () => reject(new Error('dsu run exited early')))
})
const getState = async () => (await fetch(`http://127.0.0.1:${port}/state`)).json()

let ok = 0
const marks = []
const reach = (n) => new Promise((resolve) => marks.push({ n: ok + n, resolve }))
say('load: autocannon, 24 keep-alive connections, POST /inc/hits')
const instance = autocannon({
  url: `http://127.0.0.1:${port}`, connections: 24, amount: 2_000_000, duration: 60,
  requests: [{ method: 'POST', path: '/inc/hits', onResponse: (status) => {
    if (status !== 200) return
    ok++
    for (const m of marks) if (ok >= m.n) m.resolve()
  } }],
}, () => {})
const done = new Promise((resolve) => instance.on('done', resolve))

// Asynchronous, so the load keeps running in this process during the upgrade.
const upgrade = async (to) => {
  say(`dsu upgrade --to ${path.relative(root, to)}`)
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'upgrade', '--to', to, '--state-dir', stateDir])
  process.stdout.write(stdout)
}
await reach(20_000)
console.log('state before:', JSON.stringify(await getState()))
await upgrade(app('v2'))
console.log('state after: ', JSON.stringify(await getState()))
await reach(20_000)
await upgrade(app('v3'))
console.log('state after: ', JSON.stringify(await getState()))
await reach(20_000)
instance.stop()
const result = await done
const final = await getState()
say('result')
console.log(`requests answered 2xx: ${ok}; errors: ${result.errors}; timeouts: ${result.timeouts}; non-2xx: ${result.non2xx}`)
console.log(`final state (v${final.version}): hits = ${final.counters.hits} (acknowledged ${ok}; the stop may abort at most one request per connection)`)
say('dsu history')
process.stdout.write((await promisify(execFile)(process.execPath, [cli, 'history', '--state-dir', stateDir])).stdout)
await promisify(execFile)(process.execPath, [cli, 'stop', '--state-dir', stateDir])
await new Promise((resolve) => sup.once('exit', resolve))
fs.rmSync(stateDir, { recursive: true, force: true })
if (result.errors || result.timeouts || result.non2xx) process.exit(1)
