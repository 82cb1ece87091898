// Checkpoint files are read from disk, so they may be hostile or broken:
// crafted ones in a real state directory — a path-traversal id, null and
// garbage metadata, a FIFO or a symlink for the state file, state that
// matches its hash but does not decode — never take the supervisor down,
// never make it touch a file outside the state directory, and never load.
// `--restore latest` and crash restarts skip them (saying so) and serve the
// newest good checkpoint, or fresh state; `--restore <id>` names the problem
// with DSU_ERR_CHECKPOINT_CORRUPT and exit code 7.
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { app, dsu, getJson, post, runSupervised } from '../harness.js'
import { newCheckpointId } from '../../runtime/supervisor/checkpoint-store.js'

const v1 = app('counter/v1/server.js')

interface Good { id: string; dir: string; json: Record<string, unknown>; state: Buffer }

/** A state dir holding one good checkpoint of counter v1 with a = 2. */
async function goodCheckpoint(t: { teardown(fn: () => unknown): unknown }): Promise<{ stateDir: string; good: Good }> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-crafted-'))
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }))
  const stateDir = path.join(base, '.dsu')
  const sup = await runSupervised(v1, [], {}, stateDir)
  await post(sup.port, '/inc/a')
  await post(sup.port, '/inc/a')
  const taken = await dsu(['checkpoint', '--json', '--state-dir', stateDir])
  await dsu(['stop', '--state-dir', stateDir])
  await sup.process
  const { id } = JSON.parse(taken.stdout).checkpoint
  const dir = path.join(stateDir, 'checkpoints')
  return {
    stateDir,
    good: { id, dir, json: JSON.parse(fs.readFileSync(path.join(dir, `${id}.json`), 'utf8')), state: fs.readFileSync(path.join(dir, `${id}.state`)) },
  }
}

const sha256 = (data: Buffer): string => crypto.createHash('sha256').update(data).digest('hex')

type Kind = 'traversal' | 'null' | 'garbage-json' | 'fifo-state' | 'symlink-state' | 'garbage-state' | 'truncated-state'

/** What the supervisor says about each kind. */
const reasons: Record<Kind, RegExp> = {
  'traversal': /"id" is "\.\.\/\.\.\/x\/package", but the file is/,
  'null': /holds null, not checkpoint metadata/,
  'garbage-json': /is not JSON/,
  'fifo-state': /\.state is a FIFO, not a regular file/,
  'symlink-state': /\.state is a symbolic link, not a regular file/,
  'garbage-state': /1\.0\.0 could not load it: /,
  'truncated-state': /1\.0\.0 could not load it: /,
}

let clock = 0

/** Writes a crafted checkpoint, newer than every one before it; returns its id. */
function craft(good: Good, kind: Kind): string {
  clock = Math.max(clock + 1, Date.now())
  const id = newCheckpointId(new Date(clock))
  const json = (meta: unknown): void => fs.writeFileSync(path.join(good.dir, `${id}.json`), typeof meta === 'string' ? meta : JSON.stringify(meta))
  const state = path.join(good.dir, `${id}.state`)
  const { id: _, ...meta } = good.json
  switch (kind) {
    case 'traversal':
      fs.writeFileSync(state, good.state)
      return json({ ...meta, id: '../../x/package' }), id
    case 'null':
      return json('null'), id
    case 'garbage-json':
      return json('{"version": "1.0'), id
    case 'fifo-state':
      execFileSync('mkfifo', [state])
      return json(meta), id
    case 'symlink-state':
      // Points at a good state file, so size and hash match: refused anyway.
      fs.symlinkSync(path.join(good.dir, `${good.id}.state`), state)
      return json(meta), id
    case 'garbage-state': {
      const bytes = Buffer.from('this is not a dsu state stream\n'.repeat(40))
      fs.writeFileSync(state, bytes)
      return json({ ...meta, bytes: bytes.length, sha256: sha256(bytes) }), id
    }
    case 'truncated-state': {
      const bytes = good.state.subarray(0, good.state.length - 8) // the DONE frame cut short
      fs.writeFileSync(state, bytes)
      return json({ ...meta, bytes: bytes.length, sha256: sha256(bytes) }), id
    }
  }
}

const kinds = Object.keys(reasons) as Kind[]
const skipped = (id: string): RegExp => new RegExp(`dsu: skipping checkpoint ${id}: DSU_ERR_CHECKPOINT_CORRUPT: checkpoint ${id}: `, 'g')

t.test('--restore latest skips every crafted checkpoint, restores the good one; pruning stays inside; crash restarts skip too', async (t) => {
  const { stateDir, good } = await goodCheckpoint(t)
  // What a traversal id would have deleted: <state-dir>/checkpoints/../../x/package.json.
  const outside = path.join(stateDir, '..', 'x', 'package.json')
  fs.mkdirSync(path.dirname(outside))
  fs.writeFileSync(outside, '{"name": "not dsu\'s"}')
  const crafted = new Map(kinds.map((kind) => [kind, craft(good, kind)]))

  const sup = await runSupervised(v1, ['--restore', 'latest', '--keep-checkpoints', '1', '--restart', 'on-failure', '--restart-delay', '10'], {}, stateDir)
  t.teardown(() => sup.stop())
  t.same(await getJson(sup.port, '/state'), { version: 1, counters: { a: 2 } }, 'the good checkpoint is served')
  await sup.waitForOutput(new RegExp(`restored checkpoint ${good.id}`))
  for (const [kind, id] of crafted) t.match(sup.output(), new RegExp(`${skipped(id).source}[^\\n]*${reasons[kind].source}`), `${kind}: skipped, with why`)
  const start = JSON.parse((await dsu(['history', '--events', '--json', '--state-dir', stateDir])).stdout).events.find((e: { kind: string }) => e.kind === 'start')
  const detail = JSON.parse(start.detail)
  t.equal(detail.from, `checkpoint ${good.id}`)
  t.same(detail.skipped.map((s: { id: string }) => s.id), [...crafted.values()].reverse(), 'journaled: each one skipped, newest first')

  // Listed: those whose metadata checks (a bad state file shows only when it is read).
  const listing = JSON.parse((await dsu(['checkpoint', '--list', '--json', '--state-dir', stateDir])).stdout)
  const listed = (['truncated-state', 'garbage-state', 'symlink-state', 'fifo-state'] as const).map((k) => crafted.get(k))
  t.same(listing.checkpoints.map((c: { id: string }) => c.id), [...listed, good.id], 'listed: every checkpoint with valid metadata')
  const invalid = (['traversal', 'null', 'garbage-json'] as const).map((k) => crafted.get(k))
  t.same(listing.invalid.map((c: { id: string }) => c.id).sort(), [...invalid].sort(), 'the others are listed as unusable, not hidden')
  t.ok(listing.invalid.every((c: { code: string }) => c.code === 'DSU_ERR_CHECKPOINT_CORRUPT'), 'each with the reason code')
  const text = (await dsu(['checkpoint', '--list', '--state-dir', stateDir])).stdout
  for (const id of invalid) t.match(text, new RegExp(`unusable[\\s\\S]*${id}  DSU_ERR_CHECKPOINT_CORRUPT: `), `${id}: shown as unusable, with why`)
  const taken = await dsu(['checkpoint', '--json', '--state-dir', stateDir]) // prunes to 1
  t.equal(taken.exitCode, 0, taken.stderr)
  const fresh = JSON.parse(taken.stdout).checkpoint.id
  t.ok(fs.existsSync(outside), 'pruning did not delete the file outside the state directory')
  t.same(fs.readdirSync(good.dir).sort(), [
    ...(['traversal', 'null', 'garbage-json'] as const).map((k) => `${crafted.get(k)}.json`), `${fresh}.json`, `${fresh}.state`,
    `${crafted.get('traversal')}.state`,
  ].sort(), 'pruned to the newest; metadata that does not check is left for a person to look at')

  // Crash restarts: a newer undecodable checkpoint is skipped once, then never tried again.
  const garbage = craft(good, 'garbage-state')
  for (const round of [1, 2]) {
    const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', stateDir])).stdout)
    process.kill(pid, 'SIGKILL')
    await sup.waitForOutput(new RegExp(`(restarted 1\\.0\\.0 \\(pid \\d+\\) from checkpoint ${fresh}[\\s\\S]*){${round}}`))
    t.same(await getJson(sup.port, '/state'), { version: 1, counters: { a: 2 } }, `restart ${round}: the newest good checkpoint`)
  }
  t.equal(sup.output().match(skipped(garbage))?.length, 1, 'the bad checkpoint was tried once')
  for (const id of crafted.values()) t.equal(sup.output().match(skipped(id))?.length, 1, 'those skipped at start are not retried')
})

t.test('--restore <id> of a crafted checkpoint: DSU_ERR_CHECKPOINT_CORRUPT with the reason, exit 7, nothing served', async (t) => {
  const { stateDir, good } = await goodCheckpoint(t)
  for (const kind of kinds) {
    const id = craft(good, kind)
    const r = await dsu(['run', v1, '--state-dir', stateDir, '--restore', id])
    t.equal(r.exitCode, 7, `${kind}: exit 7`)
    t.match(r.stderr, new RegExp(`DSU_ERR_CHECKPOINT_CORRUPT: checkpoint ${id}: [^\\n]*${reasons[kind].source}`), `${kind}: named, with why`)
    t.notMatch(r.stderr, /listening/, `${kind}: the program never served`)
  }
  // A path is never taken as a checkpoint id: it names a state file (dsu state
  // export), read as the operator named it; this one does not exist.
  const traversal = await dsu(['run', v1, '--state-dir', stateDir, '--restore', '../../x/package'])
  t.equal(traversal.exitCode, 7)
  t.match(traversal.stderr, /DSU_ERR_STATE_FILE: cannot read \S*\/x\/package: ENOENT/)
  t.notMatch(traversal.stderr, /listening/, 'nothing served')
  const unknown = await dsu(['run', v1, '--state-dir', stateDir, '--restore', 'yesterday'])
  t.equal(unknown.exitCode, 2)
  t.match(unknown.stderr, /DSU_ERR_CHECKPOINT_NOT_FOUND: no checkpoint yesterday/)
})

t.test('with no good checkpoint, --restore latest starts with fresh state and says so', async (t) => {
  const { stateDir, good } = await goodCheckpoint(t)
  fs.rmSync(path.join(good.dir, `${good.id}.json`))
  const bad = [craft(good, 'null'), craft(good, 'garbage-state')]
  const sup = await runSupervised(v1, ['--restore', 'latest'], {}, stateDir)
  t.teardown(() => sup.stop())
  t.same(await getJson(sup.port, '/state'), { version: 1, counters: {} }, 'fresh state')
  await sup.waitForOutput(/dsu: no usable checkpoint \(2 skipped\); starting with fresh state/)
  for (const id of bad) t.match(sup.output(), skipped(id))
  const start = JSON.parse((await dsu(['history', '--events', '--json', '--state-dir', stateDir])).stdout).events.find((e: { kind: string }) => e.kind === 'start')
  t.match(JSON.parse(start.detail), { restore: 'latest', from: 'fresh state', skipped: [{ id: bad[1], code: 'DSU_ERR_CHECKPOINT_CORRUPT' }, { id: bad[0] }] })
  t.equal((await post(sup.port, '/inc/a')).body.value, 1, 'and it serves')
})
