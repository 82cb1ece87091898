// The checkpoint store against crafted files in a real state directory:
// metadata is checked, ids come from file names, only regular files are read,
// and a write that fails (an injected full disk) is named and leaves nothing.
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import t from 'tap'
import {
  checkpointDir, checkpointIds, commitCheckpoint, isCheckpointId, listCheckpoints, newCheckpointId, openCheckpointState,
  parseCheckpointMeta, pruneCheckpoints, readVerifiedCheckpoint, receiveCheckpoint, scanCheckpoints, verifiedCheckpoint, verifyCheckpoint,
  type CheckpointIo, type CheckpointMeta,
} from './checkpoint-store.js'

function stateDir(t: { teardown(fn: () => void): unknown }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-store-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, '.dsu')
}

/** A complete, valid checkpoint written the way the supervisor writes one. */
function writeCheckpoint(stateDir: string, data: Buffer, at: Date): CheckpointMeta {
  const id = newCheckpointId(at)
  fs.mkdirSync(checkpointDir(stateDir), { recursive: true, mode: 0o700 })
  fs.writeFileSync(path.join(checkpointDir(stateDir), `${id}.state`), data, { mode: 0o600 })
  const meta: CheckpointMeta = {
    id, version: '1.0.0', entry: '/app/server.js', createdAt: at.toISOString(),
    bytes: data.length, records: 1, roots: 1, sha256: crypto.createHash('sha256').update(data).digest('hex'),
  }
  commitCheckpoint(stateDir, meta)
  return meta
}

const good = { version: '1.0.0', entry: '/app/server.js', createdAt: '2026-01-02T03:04:05.678Z', bytes: 3, records: 1, roots: 1, sha256: 'a'.repeat(64) }

t.test('ids: newCheckpointId makes them, nothing else is one', async (t) => {
  const id = newCheckpointId(new Date('2026-01-02T03:04:05.678Z'))
  t.match(id, /^20260102T030405-678Z-[0-9a-f]{4}$/)
  t.ok(isCheckpointId(id))
  for (const bad of ['../../x/package', '', 'latest', `${id}/..`, `${id}.json`, null, 42]) t.notOk(isCheckpointId(bad), String(bad))
})

t.test('metadata is checked field by field; the id is the file name', async (t) => {
  const id = newCheckpointId()
  t.same(parseCheckpointMeta(id, JSON.stringify(good)), { id, ...good }, 'a .json without "id" takes the file name')
  t.same(parseCheckpointMeta(id, JSON.stringify({ ...good, id })), { id, ...good })
  const refused: Array<[string, string, RegExp]> = [
    ['null', 'null', /holds null, not checkpoint metadata/],
    ['an array', '[1]', /holds an array/],
    ['a number', '7', /holds number/],
    ['garbage', '{"version": "1.0', /is not JSON/],
    ['a traversal id', JSON.stringify({ ...good, id: '../../x/package' }), /"id" is "\.\.\/\.\.\/x\/package", but the file is/],
    ['a missing field', JSON.stringify({ ...good, version: undefined }), /"version" must be a non-empty string, got nothing/],
    ['a wrong type', JSON.stringify({ ...good, bytes: '3' }), /"bytes" must be a whole number ≥ 0, got "3"/],
    ['a negative count', JSON.stringify({ ...good, records: -1 }), /"records" must be a whole number/],
    ['a fraction', JSON.stringify({ ...good, roots: 1.5 }), /"roots" must be a whole number/],
    ['a bad hash', JSON.stringify({ ...good, sha256: 'xyz' }), /"sha256" is not 64 hex digits/],
    ['a bad date', JSON.stringify({ ...good, createdAt: 'yesterday' }), /"createdAt" is not a date/],
  ]
  for (const [what, text, message] of refused) {
    t.throws(() => parseCheckpointMeta(id, text), { code: 'DSU_ERR_CHECKPOINT_CORRUPT', message }, what)
  }
})

t.test('listing skips bad checkpoints and says why; pruning never leaves the directory', async (t) => {
  const dir = stateDir(t)
  const older = writeCheckpoint(dir, Buffer.from('old'), new Date('2026-01-01T00:00:00.000Z'))
  const newer = writeCheckpoint(dir, Buffer.from('new'), new Date('2026-01-02T00:00:00.000Z'))
  const cps = checkpointDir(dir)
  // A file outside the state directory that a crafted id points at.
  const outside = path.join(path.dirname(dir), 'x')
  fs.mkdirSync(outside)
  fs.writeFileSync(path.join(outside, 'package.json'), '{}')
  const traversal = newCheckpointId(new Date('2026-01-03T00:00:00.000Z'))
  fs.writeFileSync(path.join(cps, `${traversal}.json`), JSON.stringify({ ...good, id: '../../x/package' }))
  const nul = newCheckpointId(new Date('2026-01-04T00:00:00.000Z'))
  fs.writeFileSync(path.join(cps, `${nul}.json`), 'null')
  const fifo = newCheckpointId(new Date('2026-01-05T00:00:00.000Z'))
  execFileSync('mkfifo', [path.join(cps, `${fifo}.json`)])
  const link = newCheckpointId(new Date('2026-01-06T00:00:00.000Z'))
  fs.symlinkSync(path.join(cps, `${newer.id}.json`), path.join(cps, `${link}.json`))
  fs.writeFileSync(path.join(cps, 'notes.json'), '{}') // not a checkpoint name: not a checkpoint

  t.same(checkpointIds(dir), [link, fifo, nul, traversal, newer.id, older.id], 'ids from file names, newest first')
  const { checkpoints, bad } = scanCheckpoints(dir)
  t.same(checkpoints.map((c) => c.id), [newer.id, older.id])
  t.same(bad.map((b) => b.id), [link, fifo, nul, traversal])
  t.match(bad.map((b) => b.error.message), [/is a symbolic link, not a regular file/, /is a FIFO, not a regular file/, /holds null/, /"id" is "\.\.\/\.\.\/x\/package"/])
  for (const b of bad) t.equal(b.error.code, 'DSU_ERR_CHECKPOINT_CORRUPT')

  pruneCheckpoints(dir, 0)
  t.ok(fs.existsSync(path.join(outside, 'package.json')), 'the file outside the state directory is still there')
  t.same(listCheckpoints(dir), [], 'the valid checkpoints were pruned')
  t.ok(fs.existsSync(path.join(cps, `${nul}.json`)), 'bad ones are left for a person to look at')
})

t.test('a state file is read only if it is a regular file that matches its hash', async (t) => {
  const dir = stateDir(t)
  const cps = checkpointDir(dir)
  const ok = writeCheckpoint(dir, Buffer.from('state bytes'), new Date('2026-01-01T00:00:00.000Z'))
  const verified = verifyCheckpoint(dir, ok.id)
  t.equal(verified.file, path.join(cps, `${ok.id}.state`))
  const chunks: Buffer[] = []
  for await (const chunk of openCheckpointState(verified)) chunks.push(chunk as Buffer)
  t.equal(Buffer.concat(chunks).toString(), 'state bytes')

  const fifo = writeCheckpoint(dir, Buffer.from('x'), new Date('2026-01-02T00:00:00.000Z'))
  fs.rmSync(path.join(cps, `${fifo.id}.state`))
  execFileSync('mkfifo', [path.join(cps, `${fifo.id}.state`)])
  t.throws(() => verifyCheckpoint(dir, fifo.id), { code: 'DSU_ERR_CHECKPOINT_CORRUPT', message: /is a FIFO, not a regular file/ }, 'a FIFO does not block')

  const link = writeCheckpoint(dir, Buffer.from('y'), new Date('2026-01-03T00:00:00.000Z'))
  fs.rmSync(path.join(cps, `${link.id}.state`))
  fs.symlinkSync(path.join(cps, `${ok.id}.state`), path.join(cps, `${link.id}.state`))
  t.throws(() => verifyCheckpoint(dir, link.id), { code: 'DSU_ERR_CHECKPOINT_CORRUPT', message: /is a symbolic link/ })

  const flipped = writeCheckpoint(dir, Buffer.from('zzz'), new Date('2026-01-04T00:00:00.000Z'))
  fs.writeFileSync(path.join(cps, `${flipped.id}.state`), 'zzy')
  t.throws(() => verifyCheckpoint(dir, flipped.id), { code: 'DSU_ERR_CHECKPOINT_CORRUPT', message: /sha256/ })

  const orphan = newCheckpointId(new Date('2026-01-05T00:00:00.000Z'))
  fs.writeFileSync(path.join(cps, `${orphan}.json`), JSON.stringify(good))
  t.throws(() => verifyCheckpoint(dir, orphan), { code: 'DSU_ERR_CHECKPOINT_CORRUPT', message: /cannot read .*ENOENT/ })

  t.throws(() => verifiedCheckpoint(dir, '../../x/package'), { code: 'DSU_ERR_CHECKPOINT_NOT_FOUND' })
  t.throws(() => verifiedCheckpoint(dir, orphan), { code: 'DSU_ERR_CHECKPOINT_CORRUPT' }, 'an explicit bad id is corrupt, not missing')
  t.throws(() => verifiedCheckpoint(path.join(dir, 'none'), 'latest'), { code: 'DSU_ERR_CHECKPOINT_NOT_FOUND' })
})

/** A write stream that takes `room` bytes, then fails the way a full disk does. */
function fullDisk(room: number): CheckpointIo & { written: () => number } {
  let written = 0
  return {
    written: () => written,
    mkdirSync: fs.mkdirSync,
    createWriteStream: ((file: string) => {
      fs.writeFileSync(file, '') // the partial file a real stream would leave
      return new Writable({
        write(chunk: Buffer, _encoding, callback) {
          if (written + chunk.length > room) {
            const error = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
            return callback(error)
          }
          written += chunk.length
          fs.appendFileSync(file, chunk)
          callback()
        },
      })
    }) as unknown as CheckpointIo['createWriteStream'],
  }
}

t.test('a full disk while receiving: a named error, the partial file removed, the sender cut off', async (t) => {
  const dir = stateDir(t)
  const id = newCheckpointId()
  const source = new PassThrough()
  const io = fullDisk(1000)
  const receiving = receiveCheckpoint(dir, id, source, io)
  source.write(Buffer.alloc(600, 1))
  source.write(Buffer.alloc(600, 2))
  await t.rejects(receiving, {
    code: 'DSU_ERR_CHECKPOINT_WRITE',
    message: new RegExp(`^could not write checkpoint ${id} to ${checkpointDir(dir)}: ENOSPC: no space left on device, write; .*keeps serving`),
  })
  t.ok(source.destroyed, 'the sender sees its stream break, so the program resumes')
  t.same(fs.readdirSync(checkpointDir(dir)), [], 'no partial file is left')
})

t.test('a checkpoints path that cannot be a directory is a named write error too', async (t) => {
  const dir = stateDir(t)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(checkpointDir(dir), 'a file where the directory should be')
  const source = new PassThrough()
  await t.rejects(receiveCheckpoint(dir, newCheckpointId(), source), { code: 'DSU_ERR_CHECKPOINT_WRITE', message: /EEXIST|ENOTDIR/ })
  t.ok(source.destroyed)
})

t.test('a real receive writes 0600 with the hash of what arrived; metadata that cannot be written is named', async (t) => {
  const dir = stateDir(t)
  const id = newCheckpointId()
  const source = new PassThrough()
  const receiving = receiveCheckpoint(dir, id, source)
  source.end(Buffer.from('frames'))
  const r = await receiving
  t.same(r, { file: path.join(checkpointDir(dir), `${id}.state`), bytes: 6, sha256: crypto.createHash('sha256').update('frames').digest('hex') })
  t.equal(fs.statSync(r.file).mode & 0o777, 0o600)
  // The .tmp it writes first is taken by a directory: the write fails.
  fs.mkdirSync(path.join(checkpointDir(dir), `${id}.json.tmp`))
  t.throws(() => commitCheckpoint(dir, { id, ...good }), { code: 'DSU_ERR_CHECKPOINT_WRITE', message: new RegExp(`could not write checkpoint ${id}`) })
})

t.test('readVerifiedCheckpoint: the bytes it hashed, in one read; a changed or grown file is refused', async (t) => {
  const dir = stateDir(t)
  const data = crypto.randomBytes(3 * 1024 * 1024 + 17) // several read chunks
  const older = writeCheckpoint(dir, Buffer.from('old'), new Date('2026-01-01T00:00:00Z'))
  const meta = writeCheckpoint(dir, data, new Date('2026-01-02T00:00:00Z'))
  const latest = readVerifiedCheckpoint(dir, 'latest')
  t.equal(latest.checkpoint.id, meta.id, 'latest is the newest')
  t.ok(latest.data.equals(data), 'the data is the file, byte for byte')
  t.ok(readVerifiedCheckpoint(dir, older.id).data.equals(Buffer.from('old')), 'by id')
  t.throws(() => readVerifiedCheckpoint(dir, 'nope'), { code: 'DSU_ERR_CHECKPOINT_NOT_FOUND' })

  const file = path.join(checkpointDir(dir), `${meta.id}.state`)
  fs.appendFileSync(file, crypto.randomBytes(2 * 1024 * 1024))
  t.throws(() => readVerifiedCheckpoint(dir, meta.id), { code: 'DSU_ERR_CHECKPOINT_CORRUPT', message: new RegExp(`more than ${data.length} bytes`) }, 'grown: refused without reading it all')
  fs.truncateSync(file, data.length)
  const flipped = Buffer.from(data)
  flipped[1000] ^= 1
  fs.writeFileSync(file, flipped)
  t.throws(() => readVerifiedCheckpoint(dir, meta.id), { code: 'DSU_ERR_CHECKPOINT_CORRUPT', message: /sha256/ }, 'one bit changed: refused')
})
