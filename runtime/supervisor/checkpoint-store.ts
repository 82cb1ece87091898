// Checkpoints on disk: `<state-dir>/checkpoints/<id>.state` holds the state
// stream exactly as the program sent it (frames, see transfer/), and
// `<id>.json` its metadata with a SHA-256 of the .state file. The .json is
// written last (tmp + rename), so a checkpoint without one is incomplete and
// ignored. Files are 0600. A checkpoint is verified whole before any byte of
// it reaches a program: a corrupt one is refused, never half-loaded.
//
// Nothing read from this directory is trusted (DESIGN §9): a checkpoint's id
// is its file name, in the newCheckpointId format, never the "id" its .json
// claims, so no path is ever built from file contents; metadata is checked
// field by field; only regular files are read, opened with O_NOFOLLOW and
// O_NONBLOCK and checked with fstat, so a symlink cannot point elsewhere and a
// FIFO cannot block the supervisor.
import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { DsuError } from '../errors.js'

// node:crypto loads on first use (a checkpoint's id or hash), not when the
// supervisor starts: loading it costs an idle supervisor 0.9 MB of RSS.
const requireBuiltin = createRequire(import.meta.url)
const crypto = (): typeof import('node:crypto') => requireBuiltin('node:crypto') as typeof import('node:crypto')

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

/** A checkpoint whose state file matched its hash when it was checked. */
export interface VerifiedCheckpoint extends CheckpointMeta {
  file: string
}

/** A checkpoint on disk that cannot be used, and why (DSU_ERR_CHECKPOINT_CORRUPT). */
export interface BadCheckpoint {
  id: string
  error: DsuError
}

/** What newCheckpointId makes: UTC time to the millisecond, then 4 random hex digits. */
const ID_FORMAT = /^\d{8}T\d{6}-\d{3}Z-[0-9a-f]{4}$/
/** Metadata is a few hundred bytes; a larger .json is not one dsu wrote. */
const MAX_META_BYTES = 64 * 1024

export function newCheckpointId(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace('.', '-') + '-' + crypto().randomBytes(2).toString('hex')
}

export function isCheckpointId(id: unknown): id is string {
  return typeof id === 'string' && ID_FORMAT.test(id)
}

export function checkpointDir(stateDir: string): string {
  return path.join(stateDir, 'checkpoints')
}

function corrupt(id: string, reason: string, cause?: unknown): DsuError {
  return new DsuError('DSU_ERR_CHECKPOINT_CORRUPT', `checkpoint ${id}: ${reason}`, cause === undefined ? undefined : { cause })
}

function writeFailed(id: string, dir: string, cause: unknown): DsuError {
  const why = cause instanceof Error ? cause.message : String(cause)
  return new DsuError('DSU_ERR_CHECKPOINT_WRITE',
    `could not write checkpoint ${id} to ${dir}: ${why}; the program keeps serving`, { cause })
}

/** Which filesystem I/O receiveCheckpoint uses: tests inject a failing one. */
export interface CheckpointIo {
  mkdirSync: typeof fs.mkdirSync
  createWriteStream: typeof fs.createWriteStream
}

/**
 * Writes what arrives on `source` as a new checkpoint's state file; returns its
 * size and hash. Any filesystem error (a full disk, permissions) rejects with
 * DSU_ERR_CHECKPOINT_WRITE, removes the partial file and breaks `source`, so
 * the program stops sending and resumes; a broken `source` rejects with its
 * own error.
 */
export function receiveCheckpoint(
  stateDir: string,
  id: string,
  source: Readable,
  io: CheckpointIo = fs,
): Promise<{ file: string; bytes: number; sha256: string }> {
  const dir = checkpointDir(stateDir)
  const file = path.join(dir, `${id}.state`)
  const hash = crypto().createHash('sha256')
  let bytes = 0
  return new Promise((resolve, reject) => {
    let settled = false
    let out: fs.WriteStream | null = null
    const fail = (error: unknown): void => {
      if (settled) return
      settled = true
      source.destroy()
      out?.destroy()
      removeQuietly(file)
      reject(error)
    }
    try {
      io.mkdirSync(dir, { recursive: true, mode: 0o700 })
      // `flush`: the data is on disk before the .json says the checkpoint is complete.
      out = io.createWriteStream(file, { mode: 0o600, flush: true })
    } catch (cause) {
      return fail(writeFailed(id, dir, cause))
    }
    const stream = out
    let finished = false
    stream.on('error', (cause) => fail(writeFailed(id, dir, cause)))
    stream.once('finish', () => (finished = true))
    // 'close' comes after the fd is flushed and closed, or after an error.
    stream.once('close', () => {
      if (settled || !finished) return
      settled = true
      resolve({ file, bytes, sha256: hash.digest('hex') })
    })
    source.on('data', (chunk: Buffer) => {
      if (settled) return
      hash.update(chunk)
      bytes += chunk.length
      if (!stream.write(chunk)) {
        source.pause()
        stream.once('drain', () => source.resume())
      }
    })
    source.once('end', () => {
      if (!settled) stream.end()
    })
    source.once('error', fail)
  })
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true })
  } catch {
    // the write already failed; that is the error to report
  }
}

/** Makes the checkpoint complete by writing its metadata; DSU_ERR_CHECKPOINT_WRITE if it cannot. */
export function commitCheckpoint(stateDir: string, meta: CheckpointMeta): void {
  const dir = checkpointDir(stateDir)
  const file = path.join(dir, `${meta.id}.json`)
  const tmp = `${file}.tmp`
  try {
    fs.writeFileSync(tmp, JSON.stringify(meta, null, 2) + '\n', { mode: 0o600, flush: true })
    fs.renameSync(tmp, file)
  } catch (cause) {
    removeQuietly(tmp)
    throw writeFailed(meta.id, dir, cause)
  }
}

export function discardCheckpoint(stateDir: string, id: string): void {
  // Ids come from file names checked against the format, so this stays inside the directory.
  if (!isCheckpointId(id)) throw new DsuError('DSU_ERR_INTERNAL', `refusing to discard ${JSON.stringify(id)}: not a checkpoint id`)
  for (const ext of ['.state', '.json', '.json.tmp']) fs.rmSync(path.join(checkpointDir(stateDir), id + ext), { force: true })
}

/** Ids of every checkpoint with a .json (valid or not), newest first: ids sort by time. */
export function checkpointIds(stateDir: string): string[] {
  let names: string[]
  try {
    names = fs.readdirSync(checkpointDir(stateDir))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return []
    throw error
  }
  return names
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.slice(0, -'.json'.length))
    .filter(isCheckpointId)
    .sort()
    .reverse()
}

/** Every checkpoint, newest first: those whose metadata reads and checks, and the others with why. */
export function scanCheckpoints(stateDir: string): { checkpoints: CheckpointMeta[]; bad: BadCheckpoint[] } {
  const checkpoints: CheckpointMeta[] = []
  const bad: BadCheckpoint[] = []
  for (const id of checkpointIds(stateDir)) {
    try {
      checkpoints.push(readCheckpointMeta(stateDir, id))
    } catch (error) {
      bad.push({ id, error: error as DsuError })
    }
  }
  return { checkpoints, bad }
}

/** Complete checkpoints with valid metadata, newest first. */
export function listCheckpoints(stateDir: string): CheckpointMeta[] {
  return scanCheckpoints(stateDir).checkpoints
}

/** Keeps the newest `keep` checkpoints; one that cannot be removed now is removed next time. */
export function pruneCheckpoints(stateDir: string, keep: number): void {
  for (const old of listCheckpoints(stateDir).slice(keep)) {
    try {
      discardCheckpoint(stateDir, old.id)
    } catch {
      // not worth failing the checkpoint just taken
    }
  }
}

/** The metadata of checkpoint `id`, checked field by field; DSU_ERR_CHECKPOINT_CORRUPT otherwise. */
export function readCheckpointMeta(stateDir: string, id: string): CheckpointMeta {
  if (!isCheckpointId(id)) throw corrupt(String(id), 'not a checkpoint id')
  const file = path.join(checkpointDir(stateDir), `${id}.json`)
  const fd = openRegularFile(file, id)
  let text: string
  try {
    const size = fs.fstatSync(fd).size
    if (size > MAX_META_BYTES) throw corrupt(id, `${file} has ${size} bytes; checkpoint metadata is under ${MAX_META_BYTES}`)
    text = fs.readFileSync(fd, 'utf8')
  } catch (error) {
    if (error instanceof DsuError) throw error
    throw corrupt(id, `cannot read ${file}: ${(error as Error).message}`, error)
  } finally {
    fs.closeSync(fd)
  }
  return parseCheckpointMeta(id, text, file)
}

/** Checks what a .json holds; the id is the file's, and a different one inside it is refused. */
export function parseCheckpointMeta(id: string, text: string, file = `${id}.json`): CheckpointMeta {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw corrupt(id, `${file} is not JSON: ${(error as Error).message}`, error)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corrupt(id, `${file} holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not checkpoint metadata`)
  }
  const m = value as Record<string, unknown>
  const problems: string[] = []
  const string = (key: string): string => {
    const v = m[key]
    if (typeof v === 'string' && v !== '') return v
    problems.push(`"${key}" must be a non-empty string, got ${describe(v)}`)
    return ''
  }
  const count = (key: string): number => {
    const v = m[key]
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v
    problems.push(`"${key}" must be a whole number ≥ 0, got ${describe(v)}`)
    return 0
  }
  if (m.id !== undefined && m.id !== id) problems.push(`"id" is ${describe(m.id)}, but the file is ${id}.json`)
  const meta: CheckpointMeta = {
    id,
    version: string('version'),
    entry: string('entry'),
    createdAt: string('createdAt'),
    bytes: count('bytes'),
    records: count('records'),
    roots: count('roots'),
    sha256: string('sha256'),
  }
  if (meta.createdAt && !Number.isFinite(Date.parse(meta.createdAt))) problems.push(`"createdAt" is not a date: ${describe(meta.createdAt)}`)
  if (meta.sha256 && !/^[0-9a-f]{64}$/.test(meta.sha256)) problems.push(`"sha256" is not 64 hex digits: ${describe(meta.sha256)}`)
  if (problems.length > 0) throw corrupt(id, `${file}: ${problems.join('; ')}`)
  return meta
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  const json = JSON.stringify(value)
  return json.length > 60 ? `${json.slice(0, 57)}…` : json
}

/**
 * Opens `file` for reading if it is a regular file: a symlink fails the open
 * (O_NOFOLLOW), a FIFO or device opens without blocking (O_NONBLOCK) and is
 * refused by fstat. lstat first only for a clearer message.
 */
function openRegularFile(file: string, id: string): number {
  let fd: number
  try {
    const link = fs.lstatSync(file)
    if (!link.isFile()) throw corrupt(id, `${file} is ${kindOf(link)}, not a regular file; it is not read`)
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  } catch (error) {
    if (error instanceof DsuError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw corrupt(id, `${file} is a symbolic link, not a regular file; it is not read`, error)
    throw corrupt(id, `cannot read ${file}: ${(error as Error).message}`, error)
  }
  const stat = fs.fstatSync(fd)
  if (!stat.isFile()) {
    fs.closeSync(fd)
    throw corrupt(id, `${file} is ${kindOf(stat)}, not a regular file; it is not read`)
  }
  return fd
}

function kindOf(stat: fs.Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link'
  if (stat.isFIFO()) return 'a FIFO'
  if (stat.isDirectory()) return 'a directory'
  if (stat.isSocket()) return 'a socket'
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device'
  return 'not a file'
}

/** Checkpoint `id` with its state file checked against its size and hash; DSU_ERR_CHECKPOINT_CORRUPT otherwise. */
export function verifyCheckpoint(stateDir: string, id: string): VerifiedCheckpoint {
  return checkStateFile(stateDir, id, false).checkpoint
}

/**
 * Like verifyCheckpoint, and keeps the bytes it hashed: for a reader that
 * needs the whole state in memory anyway (`dsu check`), one read instead of
 * two, and what it decodes is exactly what was verified.
 */
export function readVerifiedCheckpoint(stateDir: string, which: string): { checkpoint: VerifiedCheckpoint; data: Buffer } {
  const { checkpoint, data } = checkStateFile(stateDir, resolveCheckpoint(stateDir, which), true)
  return { checkpoint, data: data! }
}

function checkStateFile(stateDir: string, id: string, keep: boolean): { checkpoint: VerifiedCheckpoint; data: Buffer | null } {
  const meta = readCheckpointMeta(stateDir, id)
  const file = path.join(checkpointDir(stateDir), `${id}.state`)
  const fd = openRegularFile(file, id)
  const hash = crypto().createHash('sha256')
  const kept: Buffer[] = []
  let bytes = 0
  try {
    for (let n; ;) {
      const chunk = Buffer.allocUnsafe(1024 * 1024)
      if ((n = fs.readSync(fd, chunk, 0, chunk.length, null)) === 0) break
      hash.update(chunk.subarray(0, n))
      if (keep) kept.push(chunk.subarray(0, n))
      bytes += n
      // More than the metadata says is already a mismatch: stop reading
      // (and holding) a file that keeps growing.
      if (bytes > meta.bytes) break
    }
  } catch (error) {
    throw corrupt(id, `cannot read ${file}: ${(error as Error).message}`, error)
  } finally {
    fs.closeSync(fd)
  }
  const sha256 = hash.digest('hex')
  if (bytes !== meta.bytes || sha256 !== meta.sha256) {
    throw corrupt(id, `${file} has ${bytes > meta.bytes ? `more than ${meta.bytes}` : bytes} bytes with sha256 ${sha256.slice(0, 12)}…, expected ${meta.bytes} bytes with ${meta.sha256.slice(0, 12)}…`)
  }
  return { checkpoint: { ...meta, file }, data: keep ? Buffer.concat(kept, bytes) : null }
}

/** Finds `latest` (the newest with valid metadata) or an id, and verifies it. */
export function verifiedCheckpoint(stateDir: string, which: string): VerifiedCheckpoint {
  return verifyCheckpoint(stateDir, resolveCheckpoint(stateDir, which))
}

/** The id `which` names: `latest` is the newest with valid metadata; DSU_ERR_CHECKPOINT_NOT_FOUND otherwise. */
function resolveCheckpoint(stateDir: string, which: string): string {
  if (which === 'latest') {
    const { checkpoints, bad } = scanCheckpoints(stateDir)
    if (checkpoints.length === 0) {
      throw new DsuError('DSU_ERR_CHECKPOINT_NOT_FOUND', `no checkpoint in ${checkpointDir(stateDir)}${bad.length ? ` (${bad.length} unusable: ${bad.map((b) => b.error.message).join('; ')})` : ''}`)
    }
    return checkpoints[0]!.id
  }
  const ids = checkpointIds(stateDir)
  if (!ids.includes(which)) {
    throw new DsuError('DSU_ERR_CHECKPOINT_NOT_FOUND', `no checkpoint ${which} in ${checkpointDir(stateDir)} (have: ${ids.join(', ') || 'none'})`)
  }
  return which
}

/** Streams a verified checkpoint's state file, opened the same safe way. */
export function openCheckpointState(checkpoint: VerifiedCheckpoint): Readable {
  const fd = openRegularFile(checkpoint.file, checkpoint.id)
  return fs.createReadStream(checkpoint.file, { fd, start: 0 })
}
