// `dsu check --to <entry>`: a dry run for deploy pipelines. Takes a snapshot
// of the running program (a brief quiescent point; it resumes at once) or
// reads a checkpoint, and runs the transformer chain and validators in a
// separate process. Exit 0 only if the real upgrade would pass these checks.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { DsuError, fromWire } from '../../runtime/errors.js'
import { normalizeCheckTarget } from '../options.js'
import type { CheckpointMeta } from '../../runtime/supervisor/checkpoint-store.js'
import { nodeArgsFor } from '../../runtime/supervisor/typescript-loader.js'
import { findStateDir, request } from '../control-client.js'
import { EXIT } from '../exit-codes.js'
import { fail } from '../output.js'
import type { CheckArgs, CheckReport } from '../check-worker.js'

export interface CheckCommandArgs {
  to: string
  transformer?: string
  transformers?: string
  snapshot?: string
  versionLabel?: string
  samples: number
  json: boolean
  stateDir?: string
  name?: string
}

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), '../check-worker.js')

export async function checkCommand(args: CheckCommandArgs): Promise<number> {
  try {
    const { entry, transformer, version } = normalizeCheckTarget(args)
    // The worker imports the transformer: a TypeScript one needs a loader, decided
    // as for program processes (and refused before any snapshot is taken).
    const nodeArgs = nodeArgsFor({ entry, modules: [transformer?.path] })
    let stateDir: string
    let snapshot: string
    if (args.snapshot) {
      stateDir = findStateDir(args, [path.dirname(entry)], 'checkpoints')
      snapshot = args.snapshot
    } else {
      stateDir = findStateDir(args, [path.dirname(entry)])
      const taken = (await request(stateDir, { cmd: 'checkpoint', list: false })) as { checkpoint: CheckpointMeta }
      snapshot = taken.checkpoint.id
    }
    const workerArgs: CheckArgs = {
      stateDir, snapshot, to: version, samples: args.samples,
      transformer,
    }
    const run = await execa(process.execPath, [...nodeArgs, worker, JSON.stringify(workerArgs)], { reject: false, cwd: path.dirname(entry) })
    const parsed = JSON.parse(String(run.stdout || '{}')) as CheckReport & { fatal?: never }
    if ('fatal' in parsed && parsed.fatal) throw fromWire(parsed.fatal)
    if (!('ok' in parsed)) throw new DsuError('DSU_ERR_INTERNAL', `dsu check's worker failed: ${run.stderr}`)
    if (args.json) process.stdout.write(JSON.stringify(parsed) + '\n')
    else process.stdout.write(render(parsed))
    return parsed.ok ? EXIT.ok : EXIT.checkFailed
  } catch (error) {
    return fail(error, args.json)
  }
}

function render(r: CheckReport): string {
  const lines = [`dsu check: ${r.from} → ${r.to} on snapshot ${r.snapshot.id} (${r.snapshot.bytes} bytes)`, `transformer: ${r.transformer ?? 'none'}`, 'roots:']
  const after = new Map(r.after.map((m) => [m.name, m]))
  for (const b of r.before) {
    const a = after.get(b.name)
    const arrow = r.after.length === 0 && r.errors.length > 0 ? '' : a ? `  →  ${a.kind} ×${a.count}` : '  →  (gone)'
    lines.push(`  ${b.name.padEnd(16)} ${b.kind} ×${b.count}${arrow}`)
  }
  for (const a of r.after) if (!r.before.some((b) => b.name === a.name)) lines.push(`  ${a.name.padEnd(16)} (new)  →  ${a.kind} ×${a.count}`)
  if (r.samples.length) lines.push('samples:')
  for (const s of r.samples) lines.push(`  ${s.root}[${s.key}]: ${s.before}  →  ${s.after}`)
  for (const w of r.warnings) lines.push(`warning: ${w}`)
  if (r.roundTrip.checked) lines.push(r.roundTrip.difference ? `round trip ${r.from} → ${r.to} → ${r.from}: differs at ${r.roundTrip.difference.path}: ${r.roundTrip.difference.detail}` : `round trip ${r.from} → ${r.to} → ${r.from}: identical`)
  for (const e of r.errors) lines.push(`error: ${e.code}: ${e.message}`)
  lines.push(r.ok ? 'check passed: the upgrade would pass these checks' : 'check FAILED: the upgrade would be refused or roll back')
  return lines.join('\n') + '\n'
}
