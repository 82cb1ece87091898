// `dsu checkpoint [--list]`: snapshot the running program's marked state (a
// brief pause; it resumes at once), or list the checkpoints on disk.
import { findStateDir, request } from '../control-client.js'
import { EXIT } from '../exit-codes.js'
import { bytes, fail } from '../output.js'
import type { CheckpointMeta } from '../../runtime/supervisor/checkpoint-store.js'

export async function checkpoint(args: { json: boolean; stateDir?: string; name?: string; list: boolean }): Promise<number> {
  try {
    const stateDir = findStateDir(args)
    const result = (await request(stateDir, { cmd: 'checkpoint', list: args.list })) as { checkpoint?: CheckpointMeta; checkpoints?: CheckpointMeta[] }
    if (args.json) {
      process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n')
    } else if (result.checkpoints) {
      if (result.checkpoints.length === 0) process.stdout.write('no checkpoints\n')
      for (const c of result.checkpoints) process.stdout.write(`${c.id}  ${c.createdAt}  ${c.version}  ${c.records} records  ${bytes(c.bytes)}\n`)
    } else if (result.checkpoint) {
      const c = result.checkpoint
      process.stdout.write(`checkpoint ${c.id}: ${c.version}, ${c.roots} roots, ${c.records} records, ${bytes(c.bytes)}\n`)
    }
    return EXIT.ok
  } catch (error) {
    return fail(error, args.json)
  }
}
