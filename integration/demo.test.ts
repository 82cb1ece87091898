// `make demo` runs to the end and exits 0: node integration/demo.js as a user
// runs it, its output showing the state carried over v1 → v2 → v3 and no
// client error. The demo bounds its own load and time.
import path from 'node:path'
import { execa } from 'execa'
import t from 'tap'
import { root } from './harness.js'

t.test('the demo upgrades v1 → v2 → v3 under load and exits 0', async (t) => {
  const demo = await execa(process.execPath, [path.join(root, 'integration/demo.js')], { cwd: root, reject: false, stdin: 'ignore', all: true })
  const output = String(demo.all)
  t.equal(demo.exitCode, 0, output)
  t.notMatch(output, /demo failed/)

  // "state before: {json}" then one "state after: {json}" per upgrade.
  const states = [...output.matchAll(/^state (?:before|after):\s+(\{.*\})$/gm)].map((m) => JSON.parse(m[1]!))
  t.same(states.map((s) => s.version), [1, 2, 3], 'each upgrade committed and serves')
  t.ok(states[0].counters.hits > 0, 'v1 counted')
  for (let i = 1; i < states.length; i++) {
    t.ok(states[i].counters.hits >= states[i - 1].counters.hits, `the hits carried over into v${states[i].version}`)
  }
  t.match(output, /committed 1\.0\.0 → 2\.0\.0/)
  t.match(output, /committed 2\.0\.0 → 3\.0\.0/)
  t.match(output, /; errors: 0; timeouts: 0; non-2xx: 0$/m, 'the clients saw no error')
  const final = output.match(/^final state \(v3\): hits = (\d+) \(acknowledged (\d+);/m)
  t.ok(final, 'the final state is shown')
  t.ok(Number(final![1]) >= Number(final![2]), 'every acknowledged increment is in the final state')
})
