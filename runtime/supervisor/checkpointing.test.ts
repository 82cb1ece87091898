// takeCheckpoint against a fake program that streams over the real socket:
// when the supervisor cannot write, the error the caller gets is the write
// error (not the broken stream the program then reports), nothing is left on
// disk, and the next checkpoint works.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { tokenBytes } from '../transfer/stream-auth.js'
import { DsuError, toWire } from '../errors.js'
import type { SupervisorMessage } from '../protocol.js'
import type { ProgramProcess } from './program-process.js'
import { FakeLink } from './fake-program.test-support.js'
import { checkpointDir, listCheckpoints, type CheckpointMeta } from './checkpoint-store.js'
import { takeCheckpoint } from './checkpointing.js'

/** A program that answers `checkpoint` by streaming `bytes` bytes, as predecessor.ts does. */
class StreamingProgram extends FakeLink implements ProgramProcess {
  readonly pid = 7
  readonly entry = '/app/server.js'
  readonly version = '1.0.0'
  resumed = 0

  constructor(private readonly bytes: number) {
    super()
  }

  protected handle(m: SupervisorMessage): void {
    if (m.dsu === 'checkpoint') {
      const socket = net.connect(m.path)
      socket.write(tokenBytes(m.token)) // the stream's token first, as predecessor.ts does
      const data = Buffer.alloc(this.bytes, 7)
      let sent = false
      socket.on('error', () => {})
      socket.on('close', () => {
        this.resumed++
        // The reply names its request, as the runtime's reply() does.
        this.emit(sent
          ? { dsu: 'checkpointed', bytes: this.bytes, records: 3, roots: 1, ack: m.seq }
          : { dsu: 'checkpoint-failed', error: toWire(new DsuError('DSU_ERR_STATE_STREAM', 'state stream closed before the transfer finished')), ack: m.seq })
      })
      socket.end(data, () => (sent = true))
    }
  }

  kill(): void {}
}

t.test('a checkpoint that cannot be written rejects with the write error, leaves nothing, and the next one works', async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-ckpt-'))
  t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }))
  let n = 0
  const env = { stateDir, streamPath: () => path.join(stateDir, `s${++n}.sock`), timeoutMs: 5000, keep: 2 }
  // A file where the checkpoints directory belongs: every write there fails.
  fs.writeFileSync(checkpointDir(stateDir), '')
  const program = new StreamingProgram(4 * 1024 * 1024)
  await t.rejects(takeCheckpoint(program, env), { code: 'DSU_ERR_CHECKPOINT_WRITE', message: /^could not write checkpoint \S+ to \S+checkpoints: E/ })
  t.equal(program.resumed, 1, 'the program saw its stream end and resumed')

  fs.rmSync(checkpointDir(stateDir))
  const metas: CheckpointMeta[] = []
  for (let i = 0; i < 3; i++) metas.push(await takeCheckpoint(program, env))
  t.match(metas[2], { version: '1.0.0', bytes: 4 * 1024 * 1024, records: 3, roots: 1 })
  t.same(listCheckpoints(stateDir).map((m) => m.id), [metas[2]!.id, metas[1]!.id], 'the newest two are kept')
  t.same(fs.readdirSync(checkpointDir(stateDir)).filter((f) => !f.startsWith(metas[1]!.id) && !f.startsWith(metas[2]!.id)), [])
})
