// UDP across an upgrade (issue 9 item 5): a statsd-style counter
// (fixtures/statsd.js) receives "hits:1|c" datagrams from a real dgram client
// that sends for the whole upgrade, pause included, then a bounded number more.
// The old version stops receiving at quiesce; datagrams of the pause wait in
// the kernel buffer of the one socket the supervisor holds, and the new
// version (commit) or the old one (rollback) reads them. Every datagram is
// counted exactly once, and the new version binds the same port with no
// EADDRINUSE.
import dgram from 'node:dgram'
import t from 'tap'
import { dsu, fixture, getJson, runSupervised, type Supervised } from './harness.js'

// 1 datagram every 2 ms at most (timers on a loaded machine fire later, never
// sooner): 500/s, so a pause of up to 1 s fits a 1 MB receive buffer (about
// 1,200 of these datagrams; 256 in Linux's default 208 KB) — see the bench
// integration/bench/udp-loss.js for loss against rate.
const INTERVAL_MS = 2
const AFTER = 100

interface Counts { version: string; pid: number; udpPort: number; read: number; counters: Record<string, number> }

/** Sends hits:1|c until `until` settles, then AFTER more; resolves with how many were sent. */
async function sendDuring(port: number, until: Promise<unknown>): Promise<number> {
  const client = dgram.createSocket('udp4')
  let sent = 0
  let extra = -1
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      client.send('hits:1|c', port, '127.0.0.1')
      sent++
      if (extra >= 0 && ++extra >= AFTER) {
        clearInterval(timer)
        resolve()
      }
    }, INTERVAL_MS)
    void until.finally(() => (extra = 0))
  })
  // A marker after the last datagram: once it is counted, every one before it was read.
  await new Promise<void>((resolve) => client.send('done:1|c', port, '127.0.0.1', () => resolve()))
  client.close()
  return sent
}

async function settled(sup: Supervised, done: number): Promise<Counts> {
  for (;;) {
    const counts = (await getJson(sup.port, '/')) as Counts
    if ((counts.counters.done ?? 0) >= done) return counts
  }
}

t.test('a UDP counter loses no datagram across an upgrade and a rollback', async (t) => {
  const sup = await runSupervised(fixture('statsd.js'), ['--version-label', '1.0.0'], { DSU_TEST_RCVBUF: String(1 << 20) })
  t.teardown(() => sup.stop())
  const first = (await getJson(sup.port, '/')) as Counts

  // Commit: v1 → v2 while the client sends.
  const upgrade = dsu(['upgrade', '--to', fixture('statsd.js'), '--version-label', '2.0.0', '--state-dir', sup.stateDir, '--json'])
  const sent1 = await sendDuring(first.udpPort, upgrade)
  const committed = JSON.parse((await upgrade).stdout)
  t.equal(committed.outcome, 'committed', 'the upgrade committed')
  const after1 = await settled(sup, 1)
  t.equal(after1.version, '2.0.0', 'v2 serves')
  t.equal(after1.udpPort, first.udpPort, 'v2 reads the same UDP port')
  t.equal(after1.counters.hits, sent1, `every one of the ${sent1} datagrams was counted exactly once`)
  t.ok(after1.read > 0 && after1.read < sent1 + 1, `v2 read the datagrams from its commit on (${after1.read}), v1 the others`)

  // Rollback: the transformer throws; v2 resumes receiving what waited meanwhile.
  const rollback = dsu(['upgrade', '--to', fixture('statsd.js'), '--transformer', fixture('throwing-transform.js'),
    '--version-label', '3.0.0', '--state-dir', sup.stateDir, '--json'])
  const sent2 = await sendDuring(first.udpPort, rollback)
  const rolled = await rollback
  t.equal(JSON.parse(rolled.stdout).outcome, 'rolled-back', 'the second upgrade rolled back')
  const after2 = await settled(sup, 2)
  t.equal(after2.pid, after1.pid, 'v2 still serves')
  t.equal(after2.counters.hits, sent1 + sent2, `every one of the ${sent2} datagrams of the rolled-back upgrade was counted exactly once`)
  t.notMatch(sup.output(), /EADDRINUSE/, 'no EADDRINUSE')
})
