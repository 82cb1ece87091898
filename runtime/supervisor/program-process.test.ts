// A real program process: its stderr still reaches the supervisor's stderr,
// chunk by chunk, and its last lines are kept; its exit is seen even when a
// grandchild holds the stderr pipe open.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { spawnProgram } from './program-process.js'

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../integration/fixtures')

/** Collects what is written to this process's stderr while `fn` runs (and still passes it on). */
async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ value: T; written: string }> {
  const write = process.stderr.write.bind(process.stderr)
  let written = ''
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    written += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    return write(chunk, ...rest)
  }) as typeof process.stderr.write
  try {
    return { value: await fn(), written }
  } finally {
    process.stderr.write = write
  }
}

t.test('stderr is forwarded and its tail kept; exit seen while a grandchild holds the pipe', async (t) => {
  // The grandchild holds the pipe until the gate opens; were the exit to wait
  // for the pipe, it would come only when the grandchild gives up (20 s), and
  // the tail would end with its complaint.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-gate-'))
  const gate = path.join(dir, 'open')
  process.env.DSU_TEST_GATE = gate
  t.teardown(() => {
    fs.writeFileSync(gate, '')
    delete process.env.DSU_TEST_GATE
  })
  const { value, written } = await capturingStderr(async () => {
    const program = spawnProgram({ entry: path.join(fixtures, 'orphan-holds-stderr.js'), version: 'test', role: 'primary' })
    const seen: unknown[] = []
    program.onExit((exit) => seen.push(exit))
    const exit = await program.exited
    return { exit, seen, output: await program.recentStderr!() }
  })
  fs.writeFileSync(gate, '')
  const orphan = Number(value.output.match(/^orphan (\d+)$/m)?.[1])
  t.ok(orphan > 0, 'the program named its grandchild')
  t.same(value.exit, { code: 1, signal: null })
  t.same(value.seen, [value.exit], 'onExit listeners ran once')
  t.equal(value.output, `orphan ${orphan}\norphan-holds-stderr: dying`, 'the exit did not wait for the grandchild')
  t.match(written, 'orphan-holds-stderr: dying\n', 'the supervisor\'s stderr got the output too')
})
