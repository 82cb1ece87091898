// A checkpoint that cannot be written — the disk is full — fails alone: the
// named error and exit code 7, no partial files, the program serving with its
// state, the failure logged and journaled, periodic checkpoints carrying on,
// and a later checkpoint working once there is room again.
//
// The full disk is real: a small tmpfs mounted for the test, filled up. Where
// mounting is not permitted (not root, no CAP_SYS_ADMIN), the supervisor runs
// under a file size limit (`ulimit -f`) instead, which fails its writes with
// EFBIG, and "freeing space" shrinks the program's state below the limit.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { dsu, fixture, runSupervised, type Supervised } from '../harness.js'

interface SmallDisk {
  how: 'tmpfs' | 'ulimit'
  stateDir: string
  through: string[]
  /** Leaves less room than the program's state needs. */
  fill(): void
  /** Makes room for a checkpoint again. */
  free(sup: Supervised): Promise<void>
  cleanup(): void
}

function smallDisk(): SmallDisk {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-full-'))
  try {
    // DSU_TEST_FULL_DISK=ulimit runs the fallback where mounting works too.
    if (process.env.DSU_TEST_FULL_DISK === 'ulimit') throw new Error('tmpfs not wanted')
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=700', 'tmpfs', mnt], { stdio: 'pipe' })
  } catch {
    return {
      how: 'ulimit',
      stateDir: path.join(mnt, '.dsu'),
      // 2048 blocks: 1 MiB in sh's 512-byte blocks, 2 MiB in bash's; the state is 3 MiB.
      // Node ignores SIGXFSZ, so a write past the limit fails with EFBIG; but
      // tap's NODE_OPTIONS preloads @tapjs/processinfo, whose signal-exit
      // handler catches SIGXFSZ and re-raises it, killing the process.
      through: ['sh', '-c', 'ulimit -f 2048 && unset NODE_OPTIONS && exec "$0" "$@"'],
      fill: () => {},
      free: async (sup) => {
        await post(sup.port, '/clear')
        await post(sup.port, '/fill/100')
      },
      cleanup: () => fs.rmSync(mnt, { recursive: true, force: true }),
    }
  }
  const filler = path.join(mnt, 'filler')
  return {
    how: 'tmpfs',
    stateDir: path.join(mnt, '.dsu'),
    through: [],
    fill: () => {
      const { bavail, bsize } = fs.statfsSync(mnt)
      // Room for the journal's next writes, not for a 3 MiB checkpoint.
      fs.writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 512 * 1024)))
    },
    free: async () => fs.rmSync(filler),
    cleanup: () => {
      execFileSync('umount', [mnt], { stdio: 'pipe' })
      fs.rmdirSync(mnt)
    },
  }
}

async function post(port: number, urlPath: string): Promise<{ count: number; hits: number; first: string | null; last: string | null }> {
  return (await request(`http://127.0.0.1:${port}${urlPath}`, { method: 'POST' })).body.json() as never
}

async function get(port: number): Promise<unknown> {
  return (await request(`http://127.0.0.1:${port}/state`)).body.json()
}

async function start(t: { teardown(fn: () => unknown): unknown; comment(...args: unknown[]): void }, args: string[]): Promise<{ sup: Supervised; disk: SmallDisk }> {
  const disk = smallDisk()
  t.comment(`full disk by ${disk.how}`)
  let sup: Supervised | null = null
  t.teardown(async () => {
    await sup?.stop()
    disk.cleanup()
  })
  sup = await runSupervised(fixture('blobs.js'), args, {}, disk.stateDir, { through: disk.through })
  return { sup, disk }
}

t.test('dsu checkpoint on a full disk: DSU_ERR_CHECKPOINT_WRITE, exit 7, the program serves on; later it works', async (t) => {
  const { sup, disk } = await start(t, ['--restart', 'on-failure', '--restart-delay', '10'])
  await post(sup.port, '/fill/3000')
  await post(sup.port, '/inc')
  disk.fill()

  const failed = await dsu(['checkpoint', '--state-dir', disk.stateDir])
  t.equal(failed.exitCode, 7, failed.stderr)
  t.match(failed.stderr, /DSU_ERR_CHECKPOINT_WRITE: could not write checkpoint \S+ to \S+\/checkpoints: (ENOSPC|EFBIG)[^\n]*; the program keeps serving/)
  t.same(fs.readdirSync(path.join(disk.stateDir, 'checkpoints')), [], 'no partial files are left')
  t.same(await get(sup.port), { count: 3000, hits: 1, first: '0:xxxxxx', last: '2999:xxx' }, 'the program serves its state')
  t.equal((await post(sup.port, '/inc')).hits, 2, 'and was resumed: it takes writes')
  t.match(sup.output(), /dsu: checkpoint failed: DSU_ERR_CHECKPOINT_WRITE: could not write checkpoint/)

  await disk.free(sup)
  const taken = await dsu(['checkpoint', '--json', '--state-dir', disk.stateDir])
  t.equal(taken.exitCode, 0, taken.stderr)
  const { id } = JSON.parse(taken.stdout).checkpoint
  const events = JSON.parse((await dsu(['history', '--events', '--json', '--state-dir', disk.stateDir])).stdout).events as Array<{ kind: string; detail: string | null }>
  t.match(events.find((e) => e.kind === 'checkpoint-failed')?.detail, /DSU_ERR_CHECKPOINT_WRITE/, 'the failure is journaled')
  t.ok(events.some((e) => e.kind === 'checkpoint' && e.detail?.includes(id)), 'and so is the checkpoint that worked')

  // The checkpoint written after the failure is whole: a crash restarts from it.
  const before = await get(sup.port)
  const { pid } = JSON.parse((await dsu(['status', '--json', '--state-dir', disk.stateDir])).stdout)
  process.kill(pid, 'SIGKILL')
  await sup.waitForOutput(new RegExp(`restarted 0\\.1\\.0 \\(pid \\d+\\) from checkpoint ${id}`))
  t.same(await get(sup.port), before)
})

t.test('--checkpoint-every on a full disk logs each failure and carries on until there is room', async (t) => {
  const { sup, disk } = await start(t, ['--checkpoint-every', '100ms'])
  await post(sup.port, '/fill/3000')
  disk.fill()
  await sup.waitForOutput(/(checkpoint failed: DSU_ERR_CHECKPOINT_WRITE[^\n]*\n[\s\S]*){2}/)
  t.same(await get(sup.port), { count: 3000, hits: 0, first: '0:xxxxxx', last: '2999:xxx' }, 'serving between failed checkpoints')
  await disk.free(sup)
  const [line] = await sup.waitForOutput(/checkpoint failed: DSU_ERR_CHECKPOINT_WRITE[\s\S]*dsu: checkpoint (\S+) \(0\.1\.0/)
  t.ok(line, 'a periodic checkpoint succeeds once there is room')
  const list = JSON.parse((await dsu(['checkpoint', '--list', '--json', '--state-dir', disk.stateDir])).stdout).checkpoints
  t.ok(list.length >= 1)
  t.notOk(fs.readdirSync(path.join(disk.stateDir, 'checkpoints')).some((f) => f.endsWith('.tmp')), 'no temporary files left')
})
