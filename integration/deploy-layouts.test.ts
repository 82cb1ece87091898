// The first upgrade works in the layouts users deploy with, with no
// --state-dir: dsu finds the supervisor from where the operator stands, and
// the journal and checkpoints live outside every release folder.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { execa } from 'execa'
import { cli, dsu, getJson, post, runFrom, startLoad } from './harness.js'
import { project, release } from './deploy-project.js'

/** Points `link` at `target` atomically, as deploy tools do (symlink beside it, then rename). */
function swapSymlink(link: string, target: string): void {
  const tmp = `${link}.tmp`
  fs.rmSync(tmp, { force: true })
  fs.symlinkSync(target, tmp)
  fs.renameSync(tmp, link)
}

const history = async (cwd: string, args: string[] = []): Promise<Array<{ outcome: string; from: string; to: string }>> => {
  const r = await dsu(['history', '--json', ...args], { cwd })
  return JSON.parse(r.stdout).upgrades
}

t.test('sibling version folders: run and upgrade from the app folder, no flags', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'v1'), 'v1')
  release(path.join(dir, 'v2'), 'v2')
  const sup = await runFrom(dir, ['run', './v1/server.js'])
  t.teardown(() => sup.stop())
  t.equal(sup.stateDir, path.join(dir, '.dsu'), 'the state dir is .dsu/ where dsu run was started')
  t.notOk(fs.existsSync(path.join(dir, 'v1', '.dsu')), 'nothing inside the release folder')
  t.equal(fs.statSync(sup.stateDir).mode & 0o777, 0o700)

  const load = startLoad(sup.port, { path: '/inc/hits', connections: 8 })
  await load.reach(500)
  const up = await dsu(['upgrade', '--to', './v2/server.js'], { cwd: dir })
  t.equal(up.exitCode, 0, up.stdout + up.stderr)
  t.match(up.stdout, /committed 1\.0\.0 → 2\.0\.0/)
  await load.reach(load.ok() + 500)
  const result = await load.stop()
  t.equal(result.errors + result.timeouts + result.non2xx, 0, 'no failed request')
  t.ok((await getJson(sup.port, '/state')).counters.hits >= load.ok(), 'the counter carried over')

  // From a subfolder, and from elsewhere with the entry's path, it is found too.
  const fromSub = await dsu(['status', '--json'], { cwd: path.join(dir, 'v2') })
  t.equal(JSON.parse(fromSub.stdout).version, '2.0.0', 'found walking up from a subfolder')
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-elsewhere-'))
  t.teardown(() => fs.rmSync(elsewhere, { recursive: true, force: true }))
  const check = await dsu(['upgrade', '--to', path.join(dir, 'v2', 'server.js'), '--json'], { cwd: elsewhere })
  t.equal(JSON.parse(check.stdout).outcome, 'committed', 'found walking up from the new entry')
})

t.test('releases/<n> with a current symlink swapped by the deploy; old releases deleted', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'releases', '1'), 'v1')
  fs.symlinkSync('releases/1', path.join(dir, 'current'))
  // Started inside the release through the symlink (systemd WorkingDirectory=…/current, or `cd current`).
  const sup = await runFrom(path.join(dir, 'current'), ['run', 'server.js'])
  t.teardown(() => sup.stop())
  t.equal(sup.stateDir, path.join(dir, '.dsu'), 'the state dir sits beside the symlink, outside every release')
  await post(sup.port, '/inc/a')

  for (const [n, v] of [['2', 'v2'], ['3', 'v3']] as const) {
    release(path.join(dir, 'releases', n), v)
    swapSymlink(path.join(dir, 'current'), `releases/${n}`)
    const up = await dsu(['upgrade', '--to', 'current/server.js', '--json'], { cwd: dir })
    t.equal(JSON.parse(up.stdout).outcome, 'committed', `release ${n}: ${up.stdout}`)
    // The deploy tool keeps one old release: it deletes the one before.
    fs.rmSync(path.join(dir, 'releases', String(Number(n) - 1)), { recursive: true, force: true })
  }
  const state = await getJson(sup.port, '/state')
  t.equal(state.version, 3)
  t.ok(JSON.stringify(state.counters).includes('"a"'), 'state carried across two releases')
  t.same((await history(path.join(dir, 'current'))).map((u) => `${u.from}→${u.to} ${u.outcome}`),
    ['2.0.0→3.0.0 committed', '1.0.0→2.0.0 committed'], 'the journal survived the deleted releases, found from current/')
})

t.test('releases/<n>, started as systemd does: in the resolved release folder, with no $PWD', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'releases', '1'), 'v1')
  fs.symlinkSync('releases/1', path.join(dir, 'current'))
  const sup = await runFrom(path.join(dir, 'releases', '1'), ['run', 'server.js'], { PWD: '' })
  t.teardown(() => sup.stop())
  t.equal(sup.stateDir, path.join(dir, '.dsu'), 'the release symlink above is found; the state stays outside the release')
})

t.test('files replaced in place, then SIGHUP; dsu history from the app folder', async (t) => {
  const dir = project(t)
  release(dir, 'v1')
  const sup = await runFrom(dir, ['run', 'server.js'])
  t.teardown(() => sup.stop())
  t.equal(sup.stateDir, path.join(dir, '.dsu'))
  await post(sup.port, '/inc/b')
  release(dir, 'v2')
  sup.process.kill('SIGHUP')
  await sup.waitForOutput(/committed 1\.0\.0 → 2\.0\.0/)
  t.equal((await getJson(sup.port, '/state')).counters.b, 1)
  t.same((await history(dir)).map((u) => u.outcome), ['committed'])
})

t.test('npm scripts: start, deploy and stop from the project root', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'v1'), 'v1')
  release(path.join(dir, 'v2'), 'v2')
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: 'shop', private: true, type: 'module',
    scripts: { start: 'dsu run ./v1/server.js', deploy: 'dsu check --to ./v2/server.js && dsu upgrade --to ./v2/server.js --json' },
  }))
  // npm runs scripts from the project root whatever folder it was started in.
  const sup = await runFrom(dir, ['run', './v1/server.js'])
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/c')
  const deploy = await execa('npm', ['run', '--silent', 'deploy'], { cwd: dir, reject: false, env: { PWD: dir } })
  t.equal(deploy.exitCode, 0, String(deploy.stderr))
  const lines = String(deploy.stdout).trim().split('\n')
  t.equal(JSON.parse(lines.at(-1)!).outcome, 'committed')
  t.equal((await getJson(sup.port, '/state')).counters.c, 1)
})

t.test('several apps in one place are told apart by name', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'api'), 'v1')
  release(path.join(dir, 'api-v2'), 'v2')
  release(path.join(dir, 'admin'), 'v1')
  const api = await runFrom(dir, ['run', '--name', 'api', './api/server.js'])
  t.teardown(() => api.stop())
  const admin = await runFrom(dir, ['run', '--name', 'admin', './admin/server.js'])
  t.teardown(() => admin.stop())
  t.equal(api.stateDir, path.join(dir, '.dsu', 'apps', 'api'))

  const ambiguous = await dsu(['status'], { cwd: dir })
  t.equal(ambiguous.exitCode, 2)
  t.match(ambiguous.stderr, /DSU_ERR_APP_AMBIGUOUS: several apps run from .*: admin, api/)
  const up = await dsu(['upgrade', 'api', '--to', './api-v2/server.js', '--json'], { cwd: dir })
  t.equal(JSON.parse(up.stdout).outcome, 'committed')
  t.equal(JSON.parse((await dsu(['status', 'admin', '--json'], { cwd: dir })).stdout).version, '1.0.0', 'admin untouched')
  const named = JSON.parse((await dsu(['status', '--name', 'api', '--json'], { cwd: dir })).stdout)
  t.equal(named.version, '2.0.0')
  t.equal(named.name, 'api')
  const unknown = await dsu(['status', 'billing'], { cwd: dir })
  t.equal(unknown.exitCode, 3)
  t.match(unknown.stderr, /no running supervisor named billing/)
  const bad = await dsu(['status', '../x'], { cwd: dir })
  t.equal(bad.exitCode, 2)
})

t.test('--state-dir and DSU_STATE_DIR work on every command, run included', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'v1'), 'v1')
  release(path.join(dir, 'v2'), 'v2')
  const stateDir = path.join(dir, 'var', 'dsu')
  const sup = await runFrom(dir, ['run', './v1/server.js'], { DSU_STATE_DIR: stateDir })
  t.teardown(() => sup.stop())
  t.equal(sup.stateDir, stateDir)
  t.notOk(fs.existsSync(path.join(dir, '.dsu')))
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-elsewhere-'))
  t.teardown(() => fs.rmSync(elsewhere, { recursive: true, force: true }))
  const env = { DSU_STATE_DIR: stateDir }
  t.equal((await dsu(['upgrade', '--to', path.join(dir, 'v2'), '--json'], { cwd: elsewhere, env })).exitCode, 0)
  t.equal(JSON.parse((await dsu(['status', '--json', '--state-dir', stateDir], { cwd: elsewhere })).stdout).version, '2.0.0')
  t.equal((await dsu(['checkpoint', '--json'], { cwd: elsewhere, env })).exitCode, 0)
  t.equal((await history(elsewhere, ['--state-dir', stateDir])).length, 1)
})

t.test('an older .dsu/ beside the entry is pointed out, not used', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'v1'), 'v1')
  fs.mkdirSync(path.join(dir, 'v1', '.dsu', 'checkpoints'), { recursive: true, mode: 0o700 })
  const sup = await runFrom(dir, ['run', './v1/server.js'])
  t.teardown(() => sup.stop())
  t.match(sup.output(), `${path.join(dir, 'v1', '.dsu')} beside the entry holds an older journal or checkpoints`)
  t.match(sup.output(), `mv ${path.join(dir, 'v1', '.dsu')} ${path.join(dir, '.dsu')}`)
})

t.test('a state dir that is not safely the user\'s own is refused by run and skipped by discovery', async (t) => {
  const dir = project(t)
  release(path.join(dir, 'v1'), 'v1')
  fs.mkdirSync(path.join(dir, '.dsu'))
  fs.chmodSync(path.join(dir, '.dsu'), 0o777)
  const run = await execa(process.execPath, [cli, 'run', './v1/server.js'], { cwd: dir, reject: false, env: { PWD: dir } })
  t.equal(run.exitCode, 2)
  t.match(String(run.stderr), /DSU_ERR_STATE_DIR: state dir .*\.dsu cannot be trusted: .* is writable by everyone \(mode 777\)/)

  // A sound supervisor below a planted, world-writable .dsu/ higher up: discovery skips the planted one.
  const sub = path.join(dir, 'svc')
  release(path.join(sub, 'v1'), 'v1')
  const sup = await runFrom(sub, ['run', './v1/server.js'])
  t.teardown(() => sup.stop())
  fs.chmodSync(path.join(sub, '.dsu'), 0o770)
  const status = await dsu(['status'], { cwd: sub })
  t.equal(status.exitCode, 3, 'a group-writable state dir is not talked to')
  t.match(status.stderr, /skipped .*svc\/\.dsu is writable by its group \(mode 770\); .*\/\.dsu is writable by everyone \(mode 777\)/)
  fs.chmodSync(path.join(sub, '.dsu'), 0o700)
  t.equal((await dsu(['status'], { cwd: sub })).exitCode, 0)
})
