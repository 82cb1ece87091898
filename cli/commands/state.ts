// `dsu state`: the running program's marked state, readable.
//   dsu state                      roots, kinds, counts, bytes, classes, sample values
//   dsu state export [file]        a superjson file (stdout without a file)
// Both take a checkpoint of the running program (a brief quiescent point, as
// `dsu check` does; it resumes at once), or read one with --snapshot, and
// decode it here, in the CLI: the program never formats its own state.
// `dsu run --restore <file.json>` reads what export writes.
import fs from 'node:fs'
import path from 'node:path'
import util from 'node:util'
import { DsuError } from '../../runtime/errors.js'
import { verifiedCheckpoint, type CheckpointMeta, type VerifiedCheckpoint } from '../../runtime/supervisor/checkpoint-store.js'
import { decodeSnapshot, exportState, TypedData, type DecodedSnapshot, type RootSummary } from '../../runtime/transfer/state-file.js'
import { findStateDir, request } from '../control-client.js'
import { operatorDir } from '../../runtime/supervisor/state-dir.js'
import { EXIT } from '../exit-codes.js'
import { bytes, fail } from '../output.js'

export interface StateArgs {
  action?: 'export'
  file?: string
  root?: string
  snapshot?: string
  samples: number
  json: boolean
  stateDir?: string
  name?: string
}

export interface StateReport {
  ok: true
  version: string
  checkpoint: { id: string; createdAt: string; bytes: number }
  roots: Array<RootSummary & { samples: Array<{ key: string; value: string }> }>
}

export async function state(args: StateArgs): Promise<number> {
  try {
    const checkpoint = await snapshotOf(args)
    const snapshot = decodeSnapshot(fs.readFileSync(checkpoint.file))
    const only = rootsWanted(args.root, snapshot)
    if (args.action === 'export') return exportTo(args, checkpoint, snapshot, only)
    const report: StateReport = {
      ok: true,
      version: checkpoint.version,
      checkpoint: { id: checkpoint.id, createdAt: checkpoint.createdAt, bytes: checkpoint.bytes },
      roots: snapshot.summaries
        .filter((s) => only === undefined || only.includes(s.name))
        .map((s) => ({ ...s, samples: samplesOf(snapshot.roots.get(s.name), args.samples) })),
    }
    process.stdout.write(args.json ? JSON.stringify(report) + '\n' : render(report))
    return EXIT.ok
  } catch (error) {
    return fail(error, args.json)
  }
}

async function snapshotOf(args: StateArgs): Promise<VerifiedCheckpoint> {
  if (args.snapshot !== undefined) return verifiedCheckpoint(findStateDir(args, [], 'checkpoints'), args.snapshot)
  const stateDir = findStateDir(args)
  const taken = (await request(stateDir, { cmd: 'checkpoint', list: false })) as { checkpoint: CheckpointMeta }
  return verifiedCheckpoint(stateDir, taken.checkpoint.id)
}

// --root a,b: those roots only (a name the state does not hold is a usage error).
function rootsWanted(root: string | undefined, snapshot: DecodedSnapshot): string[] | undefined {
  if (root === undefined) return undefined
  const names = root.split(',').map((n) => n.trim()).filter((n) => n !== '')
  for (const name of names) {
    if (!snapshot.roots.has(name)) throw new DsuError('DSU_ERR_USAGE', `--root ${name}: the state has no root ${name} (it has: ${[...snapshot.roots.keys()].join(', ') || 'none'})`)
  }
  return names
}

function exportTo(args: StateArgs, checkpoint: VerifiedCheckpoint, snapshot: DecodedSnapshot, only: string[] | undefined): number {
  const text = exportState(snapshot, { version: checkpoint.version, exportedAt: new Date().toISOString(), checkpoint: checkpoint.id }, only)
  if (args.file === undefined || args.file === '-') {
    process.stdout.write(text)
    return EXIT.ok
  }
  const file = path.resolve(operatorDir(), args.file)
  try {
    // State may hold what only the program should see: the file is the user's alone.
    fs.writeFileSync(file, text, { mode: 0o600 })
  } catch (error) {
    throw new DsuError('DSU_ERR_STATE_FILE', `cannot write ${file}: ${(error as Error).message}`, { cause: error })
  }
  const roots = snapshot.summaries.filter((s) => only === undefined || only.includes(s.name))
  const records = roots.reduce((n, s) => n + s.count, 0)
  if (args.json) process.stdout.write(JSON.stringify({ ok: true, file, version: checkpoint.version, checkpoint: checkpoint.id, roots: roots.length, records, bytes: Buffer.byteLength(text) }) + '\n')
  else process.stdout.write(`exported ${roots.length} roots (${records} records) of ${checkpoint.version} to ${file} (${bytes(Buffer.byteLength(text))})\n`)
  return EXIT.ok
}

const show = (v: unknown): string => util.inspect(v, { depth: 3, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 200 })

function samplesOf(value: unknown, n: number): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = []
  if (n <= 0) return out
  if (value instanceof Map) {
    for (const [k, v] of value) {
      if (out.length >= n) break
      out.push({ key: show(k), value: show(v) })
    }
  } else if (value instanceof Set) {
    let i = 0
    for (const v of value) {
      if (out.length >= n) break
      out.push({ key: String(i++), value: show(v) })
    }
  } else if (Array.isArray(value)) {
    value.slice(0, n).forEach((v, i) => out.push({ key: String(i), value: show(v) }))
  } else if (typeof value === 'object' && value !== null && !(value instanceof TypedData) && Object.getPrototypeOf(value) === Object.prototype) {
    for (const k of Object.keys(value).slice(0, n)) out.push({ key: JSON.stringify(k), value: show((value as Record<string, unknown>)[k]) })
  } else {
    out.push({ key: '', value: show(value) })
  }
  return out
}

function render(r: StateReport): string {
  const lines = [`state of ${r.version}: checkpoint ${r.checkpoint.id}, ${bytes(r.checkpoint.bytes)}, ${r.roots.length} roots`]
  for (const root of r.roots) {
    const held = [root.classes.length ? `classes: ${root.classes.join(', ')}` : '', root.types.length ? `types: ${root.types.join(', ')}` : ''].filter(Boolean).join('; ')
    lines.push(`  ${root.name.padEnd(16)} ${root.kind} ×${root.count}  ${bytes(root.bytes)}${held ? `  (${held})` : ''}`)
    for (const s of root.samples) lines.push(`    ${s.key ? `${s.key} → ` : ''}${s.value}`)
  }
  return lines.join('\n') + '\n'
}
