// docs/deploy.md tells the truth: its `checked:` blocks are extracted and run
// here, as a user would run them, against real supervisors.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { execa } from 'execa'
import { cli, getJson, post, root, watchOutput } from './harness.js'
import { project, release } from './deploy-project.js'

const doc = fs.readFileSync(path.join(root, 'docs', 'deploy.md'), 'utf8')

/** The fenced block right after `<!-- checked: name -->`. */
function checked(name: string): string {
  const m = new RegExp(`<!-- checked: ${name} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(doc)
  if (!m) throw new Error(`docs/deploy.md has no block checked: ${name}`)
  return m[1]!
}

/** Starts a long-running command and resolves once it prints a listening line. */
async function serving(command: string, args: string[], cwd: string, env: Record<string, string>) {
  const child = execa(command, args, { cwd, env, reject: false, all: true, buffer: false, stdin: 'ignore' })
  const { output, waitForOutput } = watchOutput(child, command)
  const port = Number((await waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1])
  return { child, port, output }
}

t.test('npm scripts: npm start, npm run deploy (with its predeploy check), npm run stop', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'releases', '1'), 'v1')
  fs.symlinkSync('releases/1', path.join(dir, 'current'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'shop', private: true, ...JSON.parse(checked('npm-scripts')) }))
  const env = { PWD: dir }
  const app = await serving('npm', ['start'], dir, env)
  t.teardown(() => app.child.kill())
  await post(app.port, '/inc/orders')

  release(path.join(dir, 'releases', '2'), 'v2')
  fs.symlinkSync('releases/2', path.join(dir, 'current.tmp'))
  fs.renameSync(path.join(dir, 'current.tmp'), path.join(dir, 'current'))
  const deploy = await execa('npm', ['run', '--silent', 'deploy'], { cwd: dir, env, reject: false })
  t.equal(deploy.exitCode, 0, String(deploy.stderr))
  t.match(String(deploy.stdout), /dsu check: 1\.0\.0 → 2\.0\.0/, 'predeploy ran dsu check')
  t.equal(JSON.parse(String(deploy.stdout).trim().split('\n').at(-1)!).outcome, 'committed')
  t.same(await getJson(app.port, '/state'), { version: 2, counters: { orders: 1 } })

  const stop = await execa('npm', ['run', '--silent', 'stop'], { cwd: dir, env, reject: false })
  t.equal(stop.exitCode, 0, String(stop.stderr))
  t.equal((await app.child).exitCode, 0, 'npm start ends cleanly')
})

t.test('the CI step commits, and fails the step on a rollback while the old version keeps serving', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'v1'), 'v1')
  release(path.join(dir, 'v2'), 'v2')
  // A release that throws once its state is restored: the upgrade rolls back.
  const broken = release(path.join(dir, 'v3-broken'), 'v2')
  fs.writeFileSync(path.join(broken, 'package.json'), JSON.stringify({ name: 'counter-app', version: '3.0.0', type: 'module' }))
  fs.rmSync(path.join(broken, 'dsu.transform.js'))
  fs.writeFileSync(path.join(broken, 'server.js'), "import { state } from 'dsu'\nawait state('counters', () => new Map())\nthrow new Error('v3 cannot reach its database')\n")
  fs.writeFileSync(path.join(dir, 'deploy.sh'), checked('ci-step'), { mode: 0o755 })

  const env = { PWD: dir, PATH: `${path.join(dir, 'node_modules', '.bin')}:${process.env.PATH}` }
  const sup = await serving(process.execPath, [cli, 'run', './v1/server.js'], dir, env)
  t.teardown(async () => {
    await execa(process.execPath, [cli, 'stop'], { cwd: dir, env, reject: false })
  })
  await post(sup.port, '/inc/builds')

  const ok = await execa('bash', ['deploy.sh', './v2'], { cwd: dir, env, reject: false })
  t.equal(ok.exitCode, 0, String(ok.stderr))
  t.match(String(ok.stdout), /deploy: committed 1\.0\.0 -> 2\.0\.0, pause \d+\.\d ms/)

  const bad = await execa('bash', ['deploy.sh', './v3-broken'], { cwd: dir, env, reject: false })
  t.equal(bad.exitCode, 1, 'the step fails')
  t.match(String(bad.stderr), /deploy: rolled back, the old version keeps serving: /)
  t.same(await getJson(sup.port, '/state'), { version: 2, counters: { builds: 1 } }, 'v2 serves with its state')
})

t.test('dsu as PID 1 of its own PID namespace (as in a container) stops gracefully on SIGTERM', async (t) => {
  const dir = project(t)
  release(dir, 'v1')
  const env = { PWD: dir }
  const ns = await serving('unshare', ['--pid', '--fork', '--kill-child', process.execPath, cli, 'run', 'server.js'], dir, env)
  // unshare forks: its child is dsu, PID 1 inside the namespace.
  const children = fs.readFileSync(`/proc/${ns.child.pid}/task/${ns.child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  t.equal(children.length, 1)
  const status = fs.readFileSync(`/proc/${children[0]}/status`, 'utf8')
  t.match(status, /^NSpid:\s+\d+\s+1$/m, 'dsu is PID 1 in its namespace')
  await post(ns.port, '/inc/x')
  process.kill(children[0]!, 'SIGTERM')
  const done = await ns.child
  t.equal(done.exitCode, 0, 'exit 0 after a graceful stop')
  t.match(ns.output(), /dsu: stopped 1\.0\.0/)
})
