// Options normalised once per command: one set of run defaults (both argument
// readers use it, and it agrees with the restart policy's), and paths resolved
// against the operator's directory.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { CHECK_DEFAULTS, normalizeCheckTarget, normalizeRunOptions, normalizeUpgradeTarget, RUN_DEFAULTS } from './options.js'
import { plainRunArgs } from './run-args.js'
import { DEFAULT_RESTART } from '../runtime/supervisor/restart-policy.js'
import { DEFAULT_DEADLINE_MS } from '../runtime/supervisor/deadlines.js'

t.test('the plain reader takes its defaults from RUN_DEFAULTS; they agree with the restart policy', async (t) => {
  const args = plainRunArgs(['run', 'server.js'])!
  t.match(args, { stopTimeout: RUN_DEFAULTS.stopTimeout, restart: 'no', restartDelay: DEFAULT_RESTART.delayMs, maxRestarts: DEFAULT_RESTART.maxRestarts, keepCheckpoints: 5, workers: 1 })
  t.equal(CHECK_DEFAULTS.samples, 3)
})

t.test('run: entry, version, state dir, durations and restart policy from one function', async (t) => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-opts-')))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'server.js'), '')
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ version: '4.5.6' }))
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  const options = normalizeRunOptions({ ...plainRunArgs(['run', 'server.js'])!, stateDir: 'state' }, { PWD: dir })
  t.match(options, {
    entry: path.join(dir, 'server.js'), version: '4.5.6', stateDir: path.join(dir, 'state'), timeoutMs: DEFAULT_DEADLINE_MS,
    stopTimeoutMs: 10_000, checkpointEveryMs: 0, restart: { ...DEFAULT_RESTART, mode: 'no' }, workers: 1,
  })
  t.equal(normalizeRunOptions({ ...plainRunArgs(['run', 'server.js'])! }, { DSU_STATE_DIR: '/var/dsu' }).stateDir, '/var/dsu', '$DSU_STATE_DIR')
  t.throws(() => normalizeRunOptions({ ...plainRunArgs(['run', 'missing.js'])! }), { code: 'DSU_ERR_ENTRY_NOT_FOUND' })
  t.same(normalizeUpgradeTarget({ to: 'v2/server.js', transformer: 't.js' }), { entry: path.join(dir, 'v2/server.js'), transformer: path.join(dir, 't.js'), transformers: null })
  t.same(normalizeCheckTarget({ to: 'server.js' }), { entry: path.join(dir, 'server.js'), transformer: null, version: '4.5.6' })
})
