// CLI latency as the operator's shell sees it: `dsu status` from spawn to exit,
// the same for an empty `node -e 0` (the floor any node CLI pays), and a whole
// `dsu upgrade --json` of the small hello app to the same code. Runs are
// interleaved so each kind meets similar machine load.
import { spawn } from 'node:child_process'
import { cli, runSupervised } from '../harness.js'
import { benchApp, progress } from './common.js'

export interface CliLatency {
  /** Wall ms per run, spawn to exit. */
  nodeEmpty: number[]
  status: number[]
  upgrade: number[]
}

function timed(args: string[]): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => {
      const ms = performance.now() - started
      if (code === 0) resolve(ms)
      else reject(new Error(`${args.join(' ')} exited with ${code}: ${stderr}`))
    })
  })
}

export async function cliLatency(runs: number): Promise<CliLatency> {
  const entry = benchApp('hello-dsu.js')
  const sup = await runSupervised(entry)
  const out: CliLatency = { nodeEmpty: [], status: [], upgrade: [] }
  try {
    // One of each first: the files are in the page cache for every measured run.
    await timed(['-e', '0'])
    await timed([cli, 'status', '--state-dir', sup.stateDir])
    for (let i = 0; i < runs; i++) {
      progress(`cli latency: run ${i + 1}/${runs}`)
      out.nodeEmpty.push(await timed(['-e', '0']))
      out.status.push(await timed([cli, 'status', '--state-dir', sup.stateDir]))
      out.upgrade.push(await timed([cli, 'upgrade', '--to', entry, '--json', '--state-dir', sup.stateDir]))
    }
  } finally {
    await sup.stop()
  }
  return out
}
