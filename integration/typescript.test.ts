// TypeScript programs under `dsu run` with no flags: a TS server (visits-ts)
// copied into a temporary project the way a user's looks — tsx installed in
// its node_modules (linked to this repository's), dsu linked to this
// repository — upgraded live to a TS v2 by its dsu.transform.ts or a chain of
// .ts links; the user's own --node-arg loader in both flag forms; and a
// project without tsx, refused by name before anything is spawned.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { app, dsu, getJson, post, root, runSupervised } from './harness.js'

/** A temporary project holding visits-ts, with tsx installed unless `tsx` is false. */
function project(t: Test, options: { tsx: boolean }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-ts-project-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.cpSync(app('visits-ts'), dir, { recursive: true })
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(root, path.join(dir, 'node_modules/dsu'))
  if (options.tsx) fs.symlinkSync(path.join(root, 'node_modules/tsx'), path.join(dir, 'node_modules/tsx'))
  return dir
}

const TSX_LOADER = /^--import=file:\/\/\/.*\/tsx\/dist\/loader\.mjs$/
// tsx compiles each module on its first load, so a version boots slower than
// plain JavaScript (about 1 s on a busy 2-core machine): a roomier deadline.
const TIMEOUT = ['--timeout', '30000']

t.test('a TypeScript program runs with no flags, upgrades live to a TypeScript v2 through its dsu.transform.ts, rolls back, restarts', async (t) => {
  const dir = project(t, { tsx: true })
  const sup = await runSupervised(path.join(dir, 'v1/server.ts'), ['--restart', 'on-failure', '--restart-delay', '20', ...TIMEOUT])
  t.teardown(() => sup.stop())
  await post(sup.port, '/visit/a')
  await post(sup.port, '/visit/a')
  await post(sup.port, '/visit/b')
  const v1 = await getJson(sup.port, '/state')
  t.same(v1.visits, { a: 2, b: 1 })
  t.equal(v1.execArgv.length, 1, 'one loader, nothing else')
  t.match(v1.execArgv[0], TSX_LOADER, 'the project\'s tsx, as an absolute file URL')

  // dsu check's worker imports a .ts transformer (given with --transformer): it gets the loader too.
  const check = await dsu(['check', '--json', '--to', path.join(dir, 'v2'), '--transformer', path.join(dir, 'v2/dsu.transform.ts'), '--state-dir', sup.stateDir])
  t.equal(check.exitCode, 0, check.stdout + check.stderr)
  t.match(JSON.parse(check.stdout), { ok: true, transformer: /v2\/dsu\.transform\.ts$/, after: [{ name: 'visits', kind: 'map', count: 2 }] })

  // A directory whose server.ts is the entry; dsu.transform.ts found beside it.
  const r = await dsu(['upgrade', '--json', '--to', path.join(dir, 'v2'), '--state-dir', sup.stateDir, ...TIMEOUT])
  t.equal(r.exitCode, 0, r.stdout + r.stderr)
  t.match(JSON.parse(r.stdout), { outcome: 'committed', from: '1.0.0', to: '2.0.0' })
  const v2 = await getJson(sup.port, '/state')
  t.same(v2.visits, { a: { count: 2, upgraded: true }, b: { count: 1, upgraded: true } }, 'state carried and transformed')
  t.equal(v2.execArgv.length, 1)
  t.match(v2.execArgv[0], TSX_LOADER)
  t.same((await post(sup.port, '/visit/a')).body, { name: 'a', count: 3, version: 2 }, 'v2 serves')

  // Rollback spawns v1 again, loading the `reverse` export of the .ts transformer.
  const back = await dsu(['rollback', '--json', '--state-dir', sup.stateDir, ...TIMEOUT])
  t.equal(back.exitCode, 0, back.stdout + back.stderr)
  const rolled = await getJson(sup.port, '/state')
  t.same(rolled.visits, { a: 3, b: 1 }, 'v1 again, with the state mapped back')
  t.match(rolled.execArgv, [TSX_LOADER])

  // A crash restart spawns it again, from the latest checkpoint.
  t.equal((await dsu(['checkpoint', '--state-dir', sup.stateDir])).exitCode, 0)
  const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', sup.stateDir])).stdout)
  process.kill(pid, 'SIGKILL')
  await sup.waitForOutput(/restarted 1\.0\.0 \(pid \d+\) from checkpoint/)
  const restarted = await getJson(sup.port, '/state')
  t.same(restarted.visits, { a: 3, b: 1 }, 'the checkpointed state')
  t.match(restarted.execArgv, [TSX_LOADER])
})

t.test('--node-arg X and --node-arg=X: the user\'s loader is used, not doubled; a chain of .ts links', async (t) => {
  const dir = project(t, { tsx: true })
  // `--import=tsx` resolves from the program's working directory (this repository, where tsx is installed).
  const sup = await runSupervised(path.join(dir, 'v1/server.ts'), ['--node-arg', '--import=tsx', '--node-arg=--max-old-space-size=200', ...TIMEOUT])
  t.teardown(() => sup.stop())
  await post(sup.port, '/visit/a')
  t.same((await getJson(sup.port, '/state')).execArgv, ['--import=tsx', '--max-old-space-size=200'], 'both flags, in order, and no loader added')
  const r = await dsu(['upgrade', '--json', '--to', path.join(dir, 'v2/server.ts'), '--transformers', path.join(dir, 'transformers'), '--state-dir', sup.stateDir, ...TIMEOUT])
  t.equal(r.exitCode, 0, r.stdout + r.stderr)
  const v2 = await getJson(sup.port, '/state')
  t.same(v2.visits, { a: { count: 1, upgraded: true } }, 'transformed by the chain link 1.0.0--2.0.0.ts')
  t.same(v2.execArgv, ['--import=tsx', '--max-old-space-size=200'], 'the same flags for the new version')
})

// Node 20 has no TypeScript support of its own; Node >= 22.6 does, and there
// the program runs (the branch below checks that instead).
const nodeRunsTypeScript = Boolean((process.features as { typescript?: unknown }).typescript) ||
  /^v(?:2[3-9]|[3-9]\d|22\.(?:[6-9]|\d\d))\./.test(process.version)

t.test('no tsx in the project: DSU_ERR_TYPESCRIPT with the fix, before anything is spawned', async (t) => {
  const dir = project(t, { tsx: false })
  // Plain CommonJS in a .ts file: Node 20 would run it as JavaScript if it were
  // spawned, and the marker proves whether it was.
  const entry = path.join(dir, 'marks-spawn.ts')
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'no-tsx', version: '1.0.0' }))
  fs.writeFileSync(entry, 'require("node:fs").writeFileSync(__filename + ".spawned", String(process.pid))\n')
  const stateDir = path.join(dir, 'state')
  const r = await dsu(['run', entry, '--state-dir', stateDir], { cwd: dir })
  if (nodeRunsTypeScript) {
    t.notMatch(r.stderr, 'DSU_ERR_TYPESCRIPT', `Node ${process.version} runs TypeScript itself`)
    t.ok(fs.existsSync(`${entry}.spawned`), 'the program ran with Node\'s own type stripping')
    return
  }
  t.equal(r.exitCode, 2, r.stderr)
  t.match(r.stderr, `dsu: DSU_ERR_TYPESCRIPT: cannot run marks-spawn.ts: Node ${process.version} has no TypeScript support and tsx is not installed in ${dir}; fix: npm install --save-dev tsx (or use Node >= 22.18)`)
  t.notMatch(r.stderr, 'ERR_UNKNOWN_FILE_EXTENSION', 'no raw Node stack')
  t.notOk(fs.existsSync(`${entry}.spawned`), 'nothing was spawned')
  t.notOk(fs.existsSync(stateDir), 'no state directory was created')

  // A running JavaScript version is not touched by an upgrade to TypeScript Node cannot run.
  const sup = await runSupervised(app('counter/v1/server.js'))
  t.teardown(() => sup.stop())
  await post(sup.port, '/inc/a')
  const refused = await dsu(['upgrade', '--json', '--to', entry, '--state-dir', sup.stateDir])
  t.equal(refused.exitCode, 2, refused.stdout)
  t.match(JSON.parse(refused.stdout).error, { code: 'DSU_ERR_TYPESCRIPT', message: /cannot run marks-spawn\.ts: .*fix: npm install --save-dev tsx/ })
  t.notOk(fs.existsSync(`${entry}.spawned`), 'nothing was spawned')
  t.same(await getJson(sup.port, '/state'), { version: 1, counters: { a: 1 } }, 'v1 keeps serving, state intact')
})
