// A fleet on one machine, for `make fleet-demo` and its test: three hosts made
// as network namespaces, each with its own `dsu run` of the fleet app in a
// Capistrano-style folder (releases/<version> + current), behind a real HAProxy,
// under write load through the balancer; releases are rolled out host by host
// by the Ansible playbook in this folder (docs/fleet.md).
//
// Needs root (network namespaces) plus haproxy and ansible-playbook; it
// installs the two from Debian's packages when they are missing and it can.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startLoad, type Load } from '../harness.js'

const run = promisify(execFile)
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const here = path.join(root, 'integration/fleet')
const cli = path.join(root, 'dist/cli/main.js')
const HOSTS = 3
const APP_PORT = 8080
/** Load connections through the balancer. */
const CONNECTIONS = 12
/** Requests per second through the balancer. */
const RATE = 1_000
/** Acknowledged writes between the steps of the demo. */
const STEP = 2_000
const DEADLINE_MS = 240_000

export class FleetFailure extends Error {}
const check = (ok: boolean, message: string): void => {
  if (!ok) throw new FleetFailure(message)
}

/** Why the fleet cannot be built on this machine, or null when it can. */
export async function unavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root (run it as root, or in a VM or container where you are root)'
  const probe = `dsuf-probe-${process.pid}`
  try {
    await run('ip', ['netns', 'add', probe])
    await run('ip', ['netns', 'del', probe])
  } catch (error) {
    return `cannot create a network namespace here (ip netns add: ${(error as Error).message.split('\n')[0]})`
  }
  const missing = [['haproxy', 'haproxy'], ['ansible-playbook', 'ansible-core']].filter(([bin]) => !onPath(bin!))
  if (missing.length === 0) return null
  const packages = missing.map(([, pkg]) => pkg!)
  if (!onPath('apt-get')) return `${packages.join(' and ')} missing, and no apt-get to install them`
  try {
    // The test and the demo install what they use; --no-install-recommends
    // keeps it to HAProxy and ansible-core (what the `ansible` package runs).
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 << 20 })
  } catch (error) {
    return `could not install ${packages.join(' and ')} with apt-get: ${(error as Error).message.split('\n')[0]}`
  }
  return null
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir, bin), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

interface Host {
  name: string
  ns: string
  ip: string
  dir: string
  supervisor: ChildProcess
  exited: Promise<{ code: number | null; signal: string | null }>
  output: () => string
}

export interface HostReport {
  name: string
  version: number
  hits: number
  /** The last upgrade journalled on this host, or null when it never had one. */
  lastUpgrade: { from: string; to: string; outcome: string; error: string | null } | null
  /** HAProxy's counters for this server over the whole run. */
  balancer: { requests: number; connectionErrors: number; responseErrors: number; retries: number; redispatches: number; http5xx: number }
}

export interface RolloutReport {
  release: string
  exitCode: number
  ms: number
}

export interface FleetReport {
  rollouts: RolloutReport[]
  hosts: HostReport[]
  load: { ok: number; errors: number; timeouts: number; non2xx: number }
  totalHits: number
}

type Say = (line: string) => void

export async function runFleet(options: { say?: Say; show?: (chunk: string) => void } = {}): Promise<FleetReport> {
  const say = options.say ?? (() => {})
  const show = options.show ?? (() => {})
  const id = crypto.randomBytes(2).toString('hex')
  const octet = 100 + (parseInt(id, 16) % 150)
  const bridge = `dsuf${id}b`
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-fleet-'))
  const hosts: Host[] = []
  const nets: string[] = []
  let haproxy: ChildProcess | null = null
  let load: Load | null = null
  const deadline = setTimeout(() => {
    for (const h of hosts) h.supervisor.kill('SIGKILL')
    haproxy?.kill('SIGKILL')
  }, DEADLINE_MS)
  try {
    say(`network: bridge ${bridge} 10.77.${octet}.1/24, ${HOSTS} hosts as network namespaces`)
    await ip('link', 'add', bridge, 'type', 'bridge')
    await ip('addr', 'add', `10.77.${octet}.1/24`, 'dev', bridge)
    await ip('link', 'set', bridge, 'up')
    for (let i = 1; i <= HOSTS; i++) {
      const ns = `dsuf-${id}-h${i}`
      await ip('netns', 'add', ns)
      nets.push(ns)
      await ip('link', 'add', `dsuf${id}v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      await ip('link', 'set', `dsuf${id}v${i}`, 'master', bridge, 'up')
      await ip('-n', ns, 'addr', 'add', `10.77.${octet}.1${i}/24`, 'dev', 'eth0')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
    }

    for (let i = 1; i <= HOSTS; i++) {
      const name = `host${i}`
      const dir = path.join(work, name)
      deployRelease(dir, '1.0.0', path.join(here, 'app/v1'))
      fs.symlinkSync('releases/1.0.0', path.join(dir, 'current'))
      // The app's modules import 'dsu': this repository stands in for the installed package.
      fs.mkdirSync(path.join(dir, 'node_modules'))
      fs.symlinkSync(root, path.join(dir, 'node_modules/dsu'))
      // host2's config lacks the region v3 needs: v3's init fails there, and only there.
      fs.mkdirSync(path.join(dir, 'shared'))
      fs.writeFileSync(path.join(dir, 'shared/config.json'), JSON.stringify(i === 2 ? {} : { region: `zone-${i}` }) + '\n')
      const ns = nets[i - 1]!
      say(`${name} (${ns}, 10.77.${octet}.1${i}): dsu run current/server.js`)
      hosts.push(startHost(name, ns, `10.77.${octet}.1${i}`, dir))
    }
    await Promise.all(hosts.map((h) => waitFor(h, /listening on/)))

    const frontPort = await freePort()
    const statsSocket = path.join(work, 'haproxy.sock')
    fs.writeFileSync(path.join(work, 'haproxy.cfg'), haproxyConfig(frontPort, statsSocket, hosts))
    say(`haproxy: 127.0.0.1:${frontPort} → ${hosts.map((h) => `${h.ip}:${APP_PORT}`).join(', ')}`)
    haproxy = spawn('haproxy', ['-db', '-f', path.join(work, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let haproxyErr = ''
    haproxy.stderr!.on('data', (d) => (haproxyErr += d))
    const haproxyExited = new Promise<void>((resolve) => haproxy!.once('exit', () => resolve()))
    await waitForServersUp(statsSocket, hosts.length, haproxyExited, () => haproxyErr)

    say(`load: autocannon, ${CONNECTIONS} keep-alive connections through haproxy, POST /inc/hits`)
    // Paced, so the three hosts, the balancer and Ansible share two cores
    // without starving each other (or tests running beside it).
    load = startLoad(frontPort, { path: '/inc/hits', connections: CONNECTIONS, rate: RATE, duration: DEADLINE_MS / 1000 })
    const inventory = path.join(work, 'inventory.ini')
    fs.writeFileSync(inventory, inventoryFile(hosts))
    const rollouts: RolloutReport[] = []
    const rollout = async (release: string, src: string): Promise<void> => {
      await load!.reach(load!.ok() + STEP)
      say(`ansible-playbook playbook.yml -e release=${release}   (serial: 1)`)
      const started = performance.now()
      const code = await ansible(work, inventory, release, src, show)
      rollouts.push({ release, exitCode: code, ms: performance.now() - started })
    }
    await rollout('2.0.0', path.join(here, 'app/v2'))
    await rollout('3.0.0', path.join(here, 'app/v3'))
    await load.reach(load.ok() + STEP)
    const result = await load.stop()

    const report: HostReport[] = []
    const stats = parseStats(await statsCommand(statsSocket, 'show stat'))
    for (const h of hosts) {
      const state = await getJson(`http://${h.ip}:${APP_PORT}/state`)
      const history = JSON.parse((await run(process.execPath, [cli, 'history', '--json', '--state-dir', path.join(h.dir, '.dsu')])).stdout)
      const last = lastUpgrade(history)
      const s = stats.get(h.name)
      report.push({
        name: h.name, version: state.version, hits: state.counters.hits ?? 0, lastUpgrade: last,
        balancer: {
          requests: num(s?.stot), connectionErrors: num(s?.econ), responseErrors: num(s?.eresp),
          retries: num(s?.wretr), redispatches: num(s?.wredis), http5xx: num(s?.hrsp_5xx),
        },
      })
    }
    return {
      rollouts, hosts: report, totalHits: report.reduce((n, h) => n + h.hits, 0),
      load: { ok: load.ok(), errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx },
    }
  } finally {
    clearTimeout(deadline)
    if (load) await load.stop().catch(() => {})
    await Promise.all(hosts.map(async (h) => {
      await run(process.execPath, [cli, 'stop', '--state-dir', path.join(h.dir, '.dsu')]).catch(() => h.supervisor.kill('SIGKILL'))
      await h.exited
    }))
    if (haproxy && haproxy.exitCode === null) {
      haproxy.kill('SIGTERM')
      await new Promise((resolve) => haproxy!.once('exit', resolve))
    }
    for (const ns of nets) await ip('netns', 'del', ns).catch(() => {})
    await ip('link', 'del', bridge).catch(() => {})
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/** What a report must show for the demo to pass; throws FleetFailure otherwise. */
export function verify(report: FleetReport): void {
  const [first, second] = report.rollouts
  const [h1, h2, h3] = report.hosts
  check(first?.exitCode === 0, `the 2.0.0 rollout failed (ansible-playbook exit ${first?.exitCode})`)
  check(second !== undefined && second.exitCode !== 0, 'the 3.0.0 rollout should stop at host2, whose config lacks the region')
  check(h1?.version === 3 && h1.lastUpgrade?.outcome === 'committed', `host1 should serve 3 after a committed upgrade: ${JSON.stringify(h1)}`)
  check(h2?.version === 2 && h2.lastUpgrade?.outcome === 'rolled-back' && h2.lastUpgrade.to === '3.0.0', `host2 should have rolled back 3.0.0 and serve 2: ${JSON.stringify(h2)}`)
  check(h3?.version === 2 && h3.lastUpgrade?.to === '2.0.0', `host3 should be untouched by the stopped rollout and serve 2: ${JSON.stringify(h3)}`)
  const l = report.load
  check(l.errors === 0 && l.timeouts === 0 && l.non2xx === 0, `clients behind the balancer saw errors: ${JSON.stringify(l)}`)
  check(report.totalHits >= l.ok, `an acknowledged write was lost: the hosts hold ${report.totalHits} hits, ${l.ok} were acknowledged`)
  for (const h of report.hosts) check(h.balancer.connectionErrors === 0 && h.balancer.responseErrors === 0 && h.balancer.http5xx === 0, `haproxy saw errors on ${h.name}: ${JSON.stringify(h.balancer)}`)
}

function deployRelease(dir: string, version: string, src: string): void {
  fs.mkdirSync(path.join(dir, 'releases'), { recursive: true })
  fs.cpSync(src, path.join(dir, 'releases', version), { recursive: true })
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args)
}

function startHost(name: string, ns: string, hostIp: string, dir: string): Host {
  // The shell's $PWD is the host's folder, as when an operator or a service
  // manager starts dsu there; the state dir becomes <dir>/.dsu.
  const supervisor = spawn('ip', ['netns', 'exec', ns, process.execPath, cli, 'run', 'current/server.js'], {
    cwd: dir, env: { ...process.env, PWD: dir, PORT: String(APP_PORT) }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  supervisor.stdout!.on('data', (d) => (text += d))
  supervisor.stderr!.on('data', (d) => (text += d))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => supervisor.once('exit', (code, signal) => resolve({ code, signal })))
  return { name, ns, ip: hostIp, dir, supervisor, exited, output: () => text }
}

function waitFor(host: Host, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const test = (): void => {
      if (pattern.test(host.output())) {
        host.supervisor.stdout!.off('data', test)
        resolve()
      }
    }
    host.supervisor.stdout!.on('data', test)
    test()
    void host.exited.then(({ code, signal }) => reject(new FleetFailure(`${host.name}: dsu run exited (${signal ?? `code ${code}`}):\n${host.output()}`)))
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
    s.once('error', reject)
  })
}

function haproxyConfig(port: number, statsSocket: string, hosts: Host[]): string {
  return [
    'global',
    `  stats socket ${statsSocket} mode 600 level admin`,
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend web',
    `  bind 127.0.0.1:${port}`,
    '  default_backend app',
    'backend app',
    '  balance roundrobin',
    '  option httpchk GET /health',
    // Keep-alive connections to the hosts, reused across requests: these are
    // the connections dsu moves to the new version at each upgrade.
    '  http-reuse always',
    ...hosts.map((h) => `  server ${h.name} ${h.ip}:${APP_PORT} check inter 1s`),
    '',
  ].join('\n')
}

function inventoryFile(hosts: Host[]): string {
  return [
    '[app]',
    ...hosts.map((h) => `${h.name} ansible_connection=local app_dir=${h.dir} host_exec="ip netns exec ${h.ns}"`),
    '',
    '[app:vars]',
    `dsu="${process.execPath} ${cli}"`,
    `ansible_python_interpreter=${fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'auto_silent'}`,
    '',
  ].join('\n')
}

function ansible(work: string, inventory: string, release: string, src: string, show: (chunk: string) => void): Promise<number> {
  const child = spawn('ansible-playbook', ['-i', inventory, path.join(here, 'playbook.yml'), '-e', `release=${release}`, '-e', `release_src=${src}`], {
    cwd: work, stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', ANSIBLE_LOCAL_TEMP: path.join(work, 'ansible-tmp'),
      ANSIBLE_HOME: path.join(work, 'ansible-home'), ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'false',
    },
  })
  child.stdout!.on('data', (d) => show(String(d)))
  child.stderr!.on('data', (d) => show(String(d)))
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? -1)))
}

async function waitForServersUp(socket: string, count: number, exited: Promise<void>, stderr: () => string): Promise<void> {
  let gone = false
  void exited.then(() => (gone = true))
  // HAProxy has no event to wait on for its health checks: ask it until every
  // server is UP, within a bound.
  const until = Date.now() + 30_000
  for (;;) {
    if (gone) throw new FleetFailure(`haproxy exited:\n${stderr()}`)
    const up = await statsCommand(socket, 'show stat').then((csv) => [...parseStats(csv).values()].filter((s) => s.status === 'UP').length, () => 0)
    if (up === count) return
    if (Date.now() > until) throw new FleetFailure(`haproxy: ${up} of ${count} servers UP after 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

function statsCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const c = net.connect(socket, () => c.end(command + '\n'))
    c.setEncoding('utf8')
    c.on('data', (d: string) => (text += d))
    c.on('end', () => resolve(text))
    c.on('error', reject)
  })
}

/** HAProxy's `show stat` CSV, by server name (the backend's servers only). */
function parseStats(csv: string): Map<string, Record<string, string>> {
  const lines = csv.trim().split('\n')
  const header = (lines.shift() ?? '').replace(/^# /, '').split(',')
  const out = new Map<string, Record<string, string>>()
  for (const line of lines) {
    const cells = line.split(',')
    const row = Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']))
    if (row.pxname === 'app' && row.svname !== 'BACKEND') out.set(row.svname!, row)
  }
  return out
}

const num = (v: string | undefined): number => Number(v || 0)

/** The newest row of `dsu history --json` (newest first), or null. */
function lastUpgrade(history: { upgrades: Array<{ from: string; to: string; outcome: string; error: { code: string } | null }> }): HostReport['lastUpgrade'] {
  const row = history.upgrades[0]
  return row ? { from: row.from, to: row.to, outcome: row.outcome, error: row.error?.code ?? null } : null
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url)
  return res.json()
}

