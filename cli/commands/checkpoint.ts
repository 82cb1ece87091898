// `dsu checkpoint [--list]`: snapshot the running program's marked state (a
// brief pause; it resumes at once), or list the checkpoints on disk.
import { findStateDir, request } from '../control-client.js'
import { EXIT } from '../exit-codes.js'
import { bytes, fail } from '../output.js'
import type { CheckpointMeta } from '../../runtime/supervisor/checkpoint-store.js'
import { printable } from '../../runtime/supervisor/output-tail.js'

interface Invalid { id: string; code: string; message: string }

export async function checkpoint(args: { json: boolean; stateDir?: string; name?: string; list: boolean }): Promise<number> {
  try {
    const stateDir = findStateDir(args)
    const result = (await request(stateDir, { cmd: 'checkpoint', list: args.list })) as { checkpoint?: CheckpointMeta; checkpoints?: CheckpointMeta[]; invalid?: Invalid[] }
    if (args.json) {
      process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n')
    } else if (result.checkpoints) {
      if (result.checkpoints.length === 0) process.stdout.write('no checkpoints\n')
      for (const c of result.checkpoints) process.stdout.write(`${c.id}  ${c.createdAt}  ${c.version}  ${c.records} records  ${bytes(c.bytes)}\n`)
      // Shown, not hidden: a checkpoint that will be skipped at restore is
      // something the operator should know about before needing it.
      const invalid = Array.isArray(result.invalid) ? result.invalid : []
      if (invalid.length) process.stdout.write(`unusable (skipped by --restore; left on disk for you to look at):\n`)
      for (const c of invalid) process.stdout.write(`${printable(String(c.id))}  ${printable(String(c.code))}: ${printable(String(c.message))}\n`)
    } else if (result.checkpoint) {
      const c = result.checkpoint
      process.stdout.write(`checkpoint ${c.id}: ${c.version}, ${c.roots} roots, ${c.records} records, ${bytes(c.bytes)}\n`)
    }
    return EXIT.ok
  } catch (error) {
    return fail(error, args.json)
  }
}
