// Restoring from checkpoints against fake programs that receive the real
// state stream over a Unix socket: a program that refuses the stream while it
// is still being sent is a named error, never an unhandled rejection; and
// restoreNewest passes over bad checkpoints to the newest good one, or a
// cold start, while other failures are not blamed on the checkpoint.
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { acceptAuthenticated } from '../transfer/stream-auth.js'
import { toWire, DsuError } from '../errors.js'
import type { SupervisorMessage } from '../protocol.js'
import type { ProgramProcess } from './program-process.js'
import { FakeLink } from './fake-program.test-support.js'
import { checkpointDir, commitCheckpoint, newCheckpointId, verifyCheckpoint, type VerifiedCheckpoint } from './checkpoint-store.js'
import { restoreFromFile, restoreNewest, type FallbackEnv } from './restore.js'

// A refusal nobody awaited used to crash the supervisor; checked last, below.
const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => unhandled.push(reason))

/** How a fake program treats the state stream it is sent. */
type Behaviour = 'accept' | 'refuse-at-once' | 'exit-before-boot'

class FakeProgram extends FakeLink implements ProgramProcess {
  readonly pid = 4242
  readonly entry = '/app/server.js'
  readonly version = '1.0.0'
  private server: net.Server | null = null

  constructor(private readonly behaviour: Behaviour) {
    super()
    queueMicrotask(() => (behaviour === 'exit-before-boot' ? this.die(1) : this.emit({ dsu: 'booted' })))
  }

  protected handle(m: SupervisorMessage): void {
    if (m.dsu === 'receive-state') {
      this.server = net.createServer()
      // As successor.ts does: only the stream presenting the token is read.
      acceptAuthenticated(this.server, m.token, (socket) => {
        socket.resume()
        let bytes = 0
        socket.on('error', () => {})
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          if (this.behaviour === 'refuse-at-once' && !socket.destroyed) {
            // As a real program does on a malformed frame: cut the stream, say why.
            socket.destroy()
            this.emit({ dsu: 'restore-failed', error: toWire(new DsuError('DSU_ERR_STATE_STREAM', 'malformed state frame: bad length 1852797984')) })
          }
        })
        socket.on('end', () => {
          this.emit({ dsu: 'restored', bytes, records: 1, roots: 1, transformMs: 0 })
          this.emit({ dsu: 'ready' })
        })
      })
      this.server.listen(m.path, () => this.emit({ dsu: 'receiving' }))
    }
    if (m.dsu === 'activate') this.emit({ dsu: 'active', keys: m.keys })
  }

  override die(code: number): void {
    if (this.exit) return
    this.server?.close()
    super.die(code)
  }

  kill(signal = 'SIGKILL'): void {
    if (this.exit) return
    this.server?.close()
    this.exitWith({ code: null, signal })
  }
}

function stateDir(t: { teardown(fn: () => void): unknown }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-restore-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

let clock = Date.parse('2026-01-01T00:00:00.000Z')

/** A checkpoint whose state file holds `data`; `hashOf` lets the metadata lie. */
function checkpoint(dir: string, data: Buffer, hashOf = data): string {
  const id = newCheckpointId(new Date(clock += 1000))
  fs.mkdirSync(checkpointDir(dir), { recursive: true })
  fs.writeFileSync(path.join(checkpointDir(dir), `${id}.state`), data)
  commitCheckpoint(dir, {
    id, version: '1.0.0', entry: '/app/server.js', createdAt: new Date(clock).toISOString(),
    bytes: hashOf.length, records: 1, roots: 1, sha256: crypto.createHash('sha256').update(hashOf).digest('hex'),
  })
  return id
}

let streams = 0
function activationEnv(dir: string) {
  return { listeners: new Map<string, unknown>(), timeoutMs: 5000, streamPath: () => path.join(dir, `stream-${++streams}.sock`) }
}

t.test('a program that refuses the stream mid-send: DSU_ERR_CHECKPOINT_CORRUPT, no unhandled rejection', async (t) => {
  const dir = stateDir(t)
  // Big enough that the refusal arrives while the supervisor is still sending.
  const id = checkpoint(dir, crypto.randomBytes(8 * 1024 * 1024))
  for (let i = 0; i < 5; i++) {
    await t.rejects(restoreFromFile(new FakeProgram('refuse-at-once'), verifyCheckpoint(dir, id), activationEnv(dir)), {
      code: 'DSU_ERR_CHECKPOINT_CORRUPT',
      message: new RegExp(`^checkpoint ${id}: 1\\.0\\.0 could not load it: malformed state frame`),
    })
  }
})

t.test('a checkpoint the program accepts is restored and activated', async (t) => {
  const dir = stateDir(t)
  const id = checkpoint(dir, Buffer.from('frames'))
  t.same(await restoreFromFile(new FakeProgram('accept'), verifyCheckpoint(dir, id), activationEnv(dir)), { bytes: 6, records: 1, roots: 1 })
})

function fallbackEnv(dir: string, behaviours: Behaviour[]) {
  const spawned: Array<{ checkpoint: string | null; program: FakeProgram }> = []
  const discarded: FakeProgram[] = []
  const skipped: string[] = []
  const cold: FakeProgram[] = []
  const log: string[] = []
  const env: FallbackEnv = {
    ...activationEnv(dir),
    stateDir: dir,
    spawn: (c: VerifiedCheckpoint | null) => {
      const program = new FakeProgram(behaviours.shift() ?? 'accept')
      spawned.push({ checkpoint: c?.id ?? null, program })
      return program
    },
    startCold: async (p) => void cold.push(p as FakeProgram),
    discard: (p) => {
      discarded.push(p as FakeProgram)
      p.kill()
    },
    skipped: (id) => void skipped.push(id),
    log: (line) => void log.push(line),
  }
  return { env, spawned, discarded, skipped, cold, log }
}

t.test('restoreNewest skips a corrupt and an undecodable checkpoint and restores the next good one', async (t) => {
  const dir = stateDir(t)
  const good = checkpoint(dir, Buffer.from('good'))
  const undecodable = checkpoint(dir, Buffer.from('garbage'))
  const flipped = checkpoint(dir, Buffer.from('bytes'), Buffer.from('other'))
  const f = fallbackEnv(dir, ['refuse-at-once', 'accept'])
  const r = await restoreNewest([flipped, undecodable, good], f.env)
  t.equal(r.checkpoint?.id, good)
  t.same(r.stats, { bytes: 4, records: 1, roots: 1 })
  t.same(r.skipped.map((s) => [s.id, s.code]), [[flipped, 'DSU_ERR_CHECKPOINT_CORRUPT'], [undecodable, 'DSU_ERR_CHECKPOINT_CORRUPT']])
  t.match(r.skipped[0]!.message, /sha256/)
  t.match(r.skipped[1]!.message, /could not load it/)
  t.same(f.spawned.map((s) => s.checkpoint), [undecodable, good], 'a checkpoint that fails verification never reaches a program')
  t.same(f.discarded, [f.spawned[0]!.program], 'the program that refused its checkpoint is discarded')
  t.same(f.skipped, [flipped, undecodable])
  t.match(f.log, [new RegExp(`skipping checkpoint ${flipped}: DSU_ERR_CHECKPOINT_CORRUPT`), new RegExp(`skipping checkpoint ${undecodable}`)])
  t.equal(r.program, f.spawned[1]!.program)
})

t.test('restoreNewest starts cold when no checkpoint loads, and says so', async (t) => {
  const dir = stateDir(t)
  const undecodable = checkpoint(dir, Buffer.from('garbage'))
  const f = fallbackEnv(dir, ['refuse-at-once'])
  const r = await restoreNewest([undecodable], f.env)
  t.equal(r.checkpoint, null)
  t.equal(r.stats, null)
  t.same(f.spawned.map((s) => s.checkpoint), [undecodable, null])
  t.same(f.cold, [f.spawned[1]!.program])
  t.match(f.log.at(-1), /no usable checkpoint \(1 skipped\); starting with fresh state/)
})

t.test('a failure that is not the checkpoint\'s is thrown, not skipped', async (t) => {
  const dir = stateDir(t)
  const older = checkpoint(dir, Buffer.from('older'))
  const newer = checkpoint(dir, Buffer.from('newer'))
  const f = fallbackEnv(dir, ['exit-before-boot'])
  await t.rejects(restoreNewest([newer, older], f.env), { code: 'DSU_ERR_SPAWN_FAILED' })
  t.equal(f.spawned.length, 1, 'no other checkpoint was tried')
  t.same(f.discarded, [])
  t.same(f.skipped, [])
})

t.test('none of the above left an unhandled rejection', async (t) => {
  await new Promise((resolve) => setImmediate(resolve))
  t.same(unhandled, [])
})
