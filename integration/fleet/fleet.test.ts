// The fleet recipe of docs/fleet.md, run for real: three network-namespace
// hosts behind HAProxy under write load, two Ansible rollouts (one stopped by a
// rollback on host2). Needs root; elsewhere it says why it cannot run.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { root, runFleet, unavailable, verify } from './fleet.js'

const reason = await unavailable()
t.test('a rollout stops at the first host that rolls back; 0 failed requests at the balancer, 0 lost writes', { skip: reason ?? false }, async (t) => {
  const report = await runFleet()
  t.equal(report.rollouts[0]!.exitCode, 0, '2.0.0 rolled out to every host')
  t.not(report.rollouts[1]!.exitCode, 0, 'the 3.0.0 rollout stopped')
  t.same(report.hosts.map((h) => h.version), [3, 2, 2], 'host1 on 3; host2 rolled back to 2; host3 never touched')
  t.equal(report.hosts[1]!.lastUpgrade?.outcome, 'rolled-back')
  t.equal(report.hosts[1]!.lastUpgrade?.error, 'DSU_ERR_SUCCESSOR_EXITED', 'v3 exited in init on host2 (no region in its config)')
  t.same(report.load, { ...report.load, errors: 0, timeouts: 0, non2xx: 0 }, 'no client behind the balancer saw an error')
  t.ok(report.totalHits >= report.load.ok, `every acknowledged write is held by a host (${report.totalHits} ≥ ${report.load.ok})`)
  t.ok(report.load.ok > 0)
  for (const h of report.hosts) t.same([h.balancer.connectionErrors, h.balancer.responseErrors, h.balancer.http5xx], [0, 0, 0], `haproxy saw no error on ${h.name}`)
  t.doesNotThrow(() => verify(report), 'what make fleet-demo checks holds')
})

t.test('docs/fleet.md shows the playbook the demo runs, byte for byte', async (t) => {
  const doc = fs.readFileSync(path.join(root, 'docs/fleet.md'), 'utf8')
  const block = doc.match(/```yaml\n([\s\S]*?)```/)
  t.ok(block, 'docs/fleet.md has a yaml block')
  t.equal(block![1], fs.readFileSync(path.join(root, 'integration/fleet/playbook.yml'), 'utf8'))
})
