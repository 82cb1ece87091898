// make fleet-demo: three hosts (network namespaces), each with its own
// `dsu run`, behind HAProxy, under write load; the Ansible playbook rolls
// 2.0.0 out host by host (all commit), then 3.0.0, which host2 rolls back, so
// the rollout stops there and host3 is never touched. Exits 0 only when all of
// that held with 0 failed requests at the balancer and 0 lost writes; prints
// why it cannot run (and exits 0) where it cannot: it needs root.
import { FleetFailure, runFleet, unavailable, verify, type FleetReport } from './fleet.js'

const json = process.argv.includes('--json')
const say = (line: string): void => {
  if (!json) console.log(`\x1b[1m▶ ${line}\x1b[0m`)
}

const reason = await unavailable()
if (reason) {
  console.log(json ? JSON.stringify({ ok: true, skipped: reason }) : `fleet-demo skipped: ${reason}`)
  process.exit(0)
}

let report: FleetReport | null = null
let code = 0
try {
  report = await runFleet({ say, show: (chunk) => { if (!json) process.stdout.write(chunk) } })
  verify(report)
} catch (error) {
  console.error(`fleet-demo failed: ${error instanceof FleetFailure ? error.message : (error as Error).stack ?? error}`)
  code = 1
}
if (report && json) console.log(JSON.stringify({ ok: code === 0, ...report }))
else if (report) {
  say('result')
  for (const r of report.rollouts) console.log(`rollout ${r.release}: ansible-playbook exit ${r.exitCode} in ${(r.ms / 1000).toFixed(1)} s`)
  for (const h of report.hosts) {
    const u = h.lastUpgrade
    console.log(`${h.name}: serves v${h.version}, hits ${h.hits}; last upgrade ${u ? `${u.from} → ${u.to} ${u.outcome}${u.error ? ` (${u.error})` : ''}` : 'none'}; ` +
      `haproxy: ${h.balancer.requests} requests, ${h.balancer.connectionErrors} connection errors, ${h.balancer.responseErrors} response errors, ${h.balancer.http5xx} 5xx, ${h.balancer.retries} retries`)
  }
  const l = report.load
  console.log(`clients (through haproxy): ${l.ok} writes acknowledged, ${l.errors} errors, ${l.timeouts} timeouts, ${l.non2xx} non-2xx; the hosts hold ${report.totalHits} hits`)
}
process.exit(code)
