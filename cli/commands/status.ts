// `dsu status` and `dsu stop`: ask the running supervisor.
import { findStateDir, request } from '../control-client.js'
import { EXIT } from '../exit-codes.js'
import { fail, ms } from '../output.js'

interface Status {
  pid: number
  version: string
  entry: string
  uptimeMs: number
  stateDir: string
  supervisorPid: number
  listeners: string[]
  roots: Array<{ name: string; kind: string; count: number }> | null
  upgrading: boolean
  lastUpgrade: { outcome: string; from: string; to: string; at: string; pauseMs: number | null } | null
  /** Added with --workers; older supervisors leave it out. */
  workers?: Array<{ index: number; pid: number; version: string; uptimeMs: number; state: string; restarts: number; roots: Status['roots'] }>
}

export async function status(args: { json: boolean; stateDir?: string; name?: string }): Promise<number> {
  try {
    const stateDir = findStateDir(args)
    const s = (await request(stateDir, { cmd: 'status' })) as Status
    if (args.json) {
      process.stdout.write(JSON.stringify({ ok: true, ...s }) + '\n')
      return EXIT.ok
    }
    const last = s.lastUpgrade
    const lines = [
      `version     ${s.version}`,
      `pid         ${s.pid} (supervisor ${s.supervisorPid})`,
      `entry       ${s.entry}`,
      `uptime      ${formatUptime(s.uptimeMs)}`,
      `state dir   ${s.stateDir}`,
      `listeners   ${s.listeners.length ? s.listeners.join(', ') : 'none'}`,
      `roots       ${s.roots === null ? '(busy)' : s.roots.length ? s.roots.map((r) => `${r.name} (${r.kind} ×${r.count})`).join(', ') : 'none'}`,
      `upgrading   ${s.upgrading ? 'yes' : 'no'}`,
      `last        ${last ? `${last.outcome} ${last.from} → ${last.to} at ${last.at} (pause ${ms(last.pauseMs)})` : 'no upgrade yet'}`,
    ]
    if (s.workers && s.workers.length > 1) {
      lines.push(`workers     ${s.workers.length}`)
      for (const w of s.workers) {
        const roots = w.roots === null ? '(busy)' : w.roots.map((r) => `${r.name} ×${r.count}`).join(', ') || 'no roots'
        lines.push(`  ${String(w.index).padStart(2)}  ${w.version}  pid ${w.pid}  ${w.state}  up ${formatUptime(w.uptimeMs)}  restarts ${w.restarts}  ${roots}`)
      }
    }
    process.stdout.write(lines.join('\n') + '\n')
    return EXIT.ok
  } catch (error) {
    return fail(error, args.json)
  }
}

export async function stop(args: { json: boolean; stateDir?: string; name?: string; timeout?: number }): Promise<number> {
  try {
    const stateDir = findStateDir(args)
    const result = await request(stateDir, { cmd: 'stop', ...(args.timeout ? { timeoutMs: args.timeout } : {}) })
    if (args.json) process.stdout.write(JSON.stringify({ ok: true, ...(result as object) }) + '\n')
    else process.stdout.write('stopped\n')
    return EXIT.ok
  } catch (error) {
    return fail(error, args.json)
  }
}

function formatUptime(msValue: number): string {
  const s = Math.floor(msValue / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}
