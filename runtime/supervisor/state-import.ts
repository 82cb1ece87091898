// `dsu run --restore <file.json>`: a state file written by `dsu state export`
// read, checked and turned into a state stream before any program is spawned.
// Nothing in it is trusted: only a regular file is read, with a size limit,
// and everything that is not a well-formed state file is DSU_ERR_STATE_FILE.
import fs from 'node:fs'
import { DsuError } from '../errors.js'
import { isCheckpointId } from './checkpoint-store.js'

/** Larger than any state a JSON file should carry into a cold start. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024 * 1024

/** `--restore` names a state file (not `latest` or a checkpoint id) when it looks like a path or a .json file. */
export function isStateFileArg(which: string): boolean {
  if (which === 'latest' || isCheckpointId(which as unknown)) return false
  return which.endsWith('.json') || which.includes('/') || fs.existsSync(which)
}

export interface StateFileStream {
  version: string
  stream: Buffer
  records: number
  roots: number
}

export async function readStateFile(file: string): Promise<StateFileStream> {
  let text: string
  let fd: number | undefined
  try {
    // O_NONBLOCK: a FIFO opens at once and is refused by fstat; O_NOFOLLOW is
    // not used, since pointing at an export through a symlink is fine.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw new DsuError('DSU_ERR_STATE_FILE', `${file} is not a regular file; a state file is what \`dsu state export\` writes`)
    if (stat.size > MAX_STATE_FILE_BYTES) throw new DsuError('DSU_ERR_STATE_FILE', `${file} has ${stat.size} bytes, more than the ${MAX_STATE_FILE_BYTES} a state file may have`)
    text = fs.readFileSync(fd, 'utf8')
  } catch (error) {
    if (error instanceof DsuError) throw error
    throw new DsuError('DSU_ERR_STATE_FILE', `cannot read ${file}: ${(error as Error).message}`, { cause: error })
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
  // Loaded on use: the long-lived supervisor does not carry superjson otherwise.
  const { encodeStateFile, parseStateFile } = await import('../transfer/state-file.js')
  const parsed = parseStateFile(text, file)
  const { stream, stats } = encodeStateFile(parsed, file)
  return { version: parsed.version, stream, records: stats.records, roots: stats.roots }
}
