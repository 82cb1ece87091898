// make soak: 100 live upgrades in a row under a write load. Reports failed
// requests, lost writes, and the supervisor's and the program's open fds and
// RSS after upgrades 1, 50 and 100 (a leak shows as a trend), into its own
// section of RESULTS.md. A benchmark, not a test: nothing here is timed.
//   make soak                                    (node dist/integration/bench/soak.js)
//   DSU_SOAK_UPGRADES=10 node dist/integration/bench/soak.js   (short run)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { app, getJson, runSupervised, startLoad } from '../harness.js'
import { benchDir, dsuJson, elapsedS, fmtMB, procMemory, progress, upgradeOnce } from './common.js'
import { replaceSection } from './report.js'

const upgrades = Number(process.env.DSU_SOAK_UPGRADES ?? 100)
const checkpoints = new Set([1, Math.ceil(upgrades / 2), upgrades])
const entry = app('counter/v1/server.js')

const fds = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length
const startedAt = new Date().toISOString()
const sup = await runSupervised(entry)
const supervisorPid = (await dsuJson(['status', '--state-dir', sup.stateDir])).supervisorPid as number
const load = startLoad(sup.port, { path: '/inc/hits', connections: 8, duration: 3600 })
await load.reach(500)

interface Sample { after: number; supervisorFds: number; programFds: number; supervisorRss: number; programRss: number; pauseMs: number }
const samples: Sample[] = []
const pauses: number[] = []
for (let i = 1; i <= upgrades; i++) {
  const result = await upgradeOnce(sup.stateDir, entry)
  pauses.push(result.pauseMs)
  if (checkpoints.has(i)) {
    const program = result.pid as number
    samples.push({
      after: i, supervisorFds: fds(supervisorPid), programFds: fds(program),
      supervisorRss: procMemory(supervisorPid)?.rss ?? NaN, programRss: procMemory(program)?.rss ?? NaN, pauseMs: result.pauseMs,
    })
    progress(`soak: ${i}/${upgrades} upgrades, ${load.ok()} writes acknowledged`)
  }
}
const result = await load.stop()
const acknowledged = load.ok()
const hits = (await getJson(sup.port, '/state')).counters.hits as number
await sup.stop()

const failed = result.errors + result.timeouts + result.non2xx
// Every acknowledged write must be in the state; a request the load was
// stopped in the middle of may be applied without being acknowledged.
const lost = Math.max(0, acknowledged - hits)
const sorted = pauses.slice().sort((a, b) => a - b)
const section = [
  `## Soak: ${upgrades} upgrades under load`, '',
  `\`make soak\` (\`node dist/integration/bench/soak.js\`) started ${startedAt}, ${elapsedS().toFixed(0)} s, Node ${process.version}, ${os.cpus().length} cores: ` +
  `${upgrades} consecutive \`dsu upgrade\`s of the counter app to the same code, while autocannon keeps 8 keep-alive connections writing (POST /inc/hits).`, '',
  `- failed requests (errors + timeouts + non-2xx): **${failed}**`,
  `- writes acknowledged: ${acknowledged}; counter in the final state: ${hits}; lost writes: **${lost}**`,
  `- pause over all upgrades: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`, '',
  '| after upgrade | supervisor fds | program fds | supervisor RSS (MB) | program RSS (MB) | that upgrade\'s pause (ms) |',
  '|---:|---:|---:|---:|---:|---:|',
  ...samples.map((s) => `| ${s.after} | ${s.supervisorFds} | ${s.programFds} | ${fmtMB(s.supervisorRss)} | ${fmtMB(s.programRss)} | ${s.pauseMs.toFixed(1)} |`),
  '',
].join('\n')
const file = path.join(benchDir, 'RESULTS.md')
fs.writeFileSync(file, replaceSection(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '', 'soak', section))
progress(`done: ${failed} failed, ${lost} lost; wrote the soak section of ${path.relative(process.cwd(), file)}`)
process.stdout.write(section)
if (failed > 0 || lost > 0) process.exitCode = 1
