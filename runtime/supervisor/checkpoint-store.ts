// Checkpoints on disk: `<state-dir>/checkpoints/<id>.state` holds the state
// stream exactly as the program sent it (frames, see transfer/), and
// `<id>.json` its metadata with a SHA-256 of the .state file. The .json is
// written last (tmp + rename), so a checkpoint without one is incomplete and
// ignored. Files are 0600. A checkpoint is verified whole before any byte of
// it reaches a program: a corrupt one is refused, never half-loaded.
import crypto from 'node:crypto'
import fs from 'node:fs'
import type net from 'node:net'
import path from 'node:path'
import { DsuError } from '../errors.js'

export interface CheckpointMeta {
  id: string
  version: string
  entry: string
  createdAt: string
  bytes: number
  records: number
  roots: number
  sha256: string
}

export function checkpointDir(stateDir: string): string {
  return path.join(stateDir, 'checkpoints')
}

/** Writes what arrives on `source` as a new checkpoint's state file; returns its size and hash. */
export function receiveCheckpoint(stateDir: string, id: string, source: net.Socket): Promise<{ file: string; bytes: number; sha256: string }> {
  const dir = checkpointDir(stateDir)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = path.join(dir, `${id}.state`)
  const out = fs.createWriteStream(file, { mode: 0o600 })
  const hash = crypto.createHash('sha256')
  let bytes = 0
  return new Promise((resolve, reject) => {
    source.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      bytes += chunk.length
      if (!out.write(chunk)) {
        source.pause()
        out.once('drain', () => source.resume())
      }
    })
    source.once('end', () => out.end(() => resolve({ file, bytes, sha256: hash.digest('hex') })))
    source.once('error', (error) => {
      out.destroy()
      fs.rmSync(file, { force: true })
      reject(error)
    })
  })
}

export function commitCheckpoint(stateDir: string, meta: CheckpointMeta): void {
  const file = path.join(checkpointDir(stateDir), `${meta.id}.json`)
  const tmp = `${file}.tmp`
  fs.writeFileSync(tmp, JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 })
  fs.renameSync(tmp, file)
}

export function discardCheckpoint(stateDir: string, id: string): void {
  for (const ext of ['.state', '.json', '.json.tmp']) fs.rmSync(path.join(checkpointDir(stateDir), id + ext), { force: true })
}

/** Complete checkpoints, newest first. */
export function listCheckpoints(stateDir: string): CheckpointMeta[] {
  const dir = checkpointDir(stateDir)
  if (!fs.existsSync(dir)) return []
  const metas: CheckpointMeta[] = []
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.json')) continue
    try {
      metas.push(JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as CheckpointMeta)
    } catch {
      // an unreadable metadata file is not a checkpoint; `verify` reports it if named
    }
  }
  return metas.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
}

/** Keeps the newest `keep` checkpoints. */
export function pruneCheckpoints(stateDir: string, keep: number): void {
  for (const old of listCheckpoints(stateDir).slice(keep)) discardCheckpoint(stateDir, old.id)
}

/** Finds `latest` or an id, and checks the state file against its hash. */
export function verifiedCheckpoint(stateDir: string, which: string): CheckpointMeta & { file: string } {
  const all = listCheckpoints(stateDir)
  const meta = which === 'latest' ? all[0] : all.find((m) => m.id === which)
  if (!meta) {
    throw new DsuError('DSU_ERR_CHECKPOINT_NOT_FOUND', which === 'latest'
      ? `no checkpoint in ${checkpointDir(stateDir)}`
      : `no checkpoint ${which} in ${checkpointDir(stateDir)} (have: ${all.map((m) => m.id).join(', ') || 'none'})`)
  }
  const file = path.join(checkpointDir(stateDir), `${meta.id}.state`)
  let data: Buffer
  try {
    data = fs.readFileSync(file)
  } catch (cause) {
    throw new DsuError('DSU_ERR_CHECKPOINT_CORRUPT', `checkpoint ${meta.id}: cannot read ${file}: ${(cause as Error).message}`, { cause })
  }
  const sha256 = crypto.createHash('sha256').update(data).digest('hex')
  if (data.length !== meta.bytes || sha256 !== meta.sha256) {
    throw new DsuError('DSU_ERR_CHECKPOINT_CORRUPT', `checkpoint ${meta.id}: ${file} has ${data.length} bytes with sha256 ${sha256.slice(0, 12)}…, expected ${meta.bytes} bytes with ${meta.sha256.slice(0, 12)}…`)
  }
  return { ...meta, file }
}

export function newCheckpointId(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace('.', '-') + '-' + crypto.randomBytes(2).toString('hex')
}
