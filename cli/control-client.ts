// The CLI's end of the control socket, and how it finds the socket.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { DsuError, fromWire } from '../runtime/errors.js'
import type { ControlReply, ControlRequest } from '../runtime/supervisor/control-protocol.js'
import { adoptSocketPath, APPS_DIR, assertTrusted, CONTROL_SOCKET, controlSocketPath, operatorDir, STATE_DIR_NAME, untrustedReason, validateAppName } from '../runtime/supervisor/state-dir.js'

/** How the user picked the app: --state-dir (or $DSU_STATE_DIR), and/or its name. */
export interface AppChoice {
  stateDir?: string | undefined
  name?: string | undefined
}

/**
 * The state dir of the app the user means: --state-dir, else $DSU_STATE_DIR,
 * else the nearest `.dsu/` (or `.dsu/apps/<name>/`) holding `marker` — the
 * control socket of a running supervisor, by default — above where the
 * operator stands, then above each of `extraStarts` (the new entry's folder).
 * Directories another user owns or may write to are never used.
 */
export function findStateDir(choice: AppChoice, extraStarts: string[] = [], marker = CONTROL_SOCKET): string {
  const given = choice.stateDir ?? process.env.DSU_STATE_DIR
  if (given) {
    const dir = path.resolve(given)
    assertTrusted(dir)
    if (marker === CONTROL_SOCKET && !fs.existsSync(controlSocketPath(dir))) {
      throw new DsuError('DSU_ERR_NO_SUPERVISOR', `no supervisor is running with state dir ${dir} (no ${controlSocketPath(dir)})`)
    }
    return dir
  }
  const name = choice.name === undefined ? undefined : validateAppName(choice.name)
  const starts = [...new Set([operatorDir(), process.cwd(), ...extraStarts].map((d) => path.resolve(d)))]
  const skipped: string[] = []
  const seen = new Set<string>()
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      if (!seen.has(dir)) {
        seen.add(dir)
        const found = appsAt(path.join(dir, STATE_DIR_NAME), name, marker, skipped)
        if (found.length === 1) return found[0]!.dir
        if (found.length > 1) {
          throw new DsuError('DSU_ERR_APP_AMBIGUOUS', `several apps run from ${dir}: ${found.map((a) => a.name ?? '(unnamed)').join(', ')}; name one, e.g. \`dsu status ${found.find((a) => a.name)?.name}\`, or pass --state-dir`)
        }
      }
      if (path.dirname(dir) === dir) break
    }
  }
  const what = name === undefined ? '' : ` named ${name}`
  const where = `looked for ${name === undefined ? `${STATE_DIR_NAME}/${marker}` : `${STATE_DIR_NAME}/${APPS_DIR}/${name}/${marker}`} from ${starts.join(', ')} upwards`
  const skippedText = skipped.length ? `; skipped ${skipped.join('; ')}` : ''
  throw new DsuError('DSU_ERR_NO_SUPERVISOR', marker === CONTROL_SOCKET
    ? `no running supervisor${what} found (${where}${skippedText})`
    : `no state directory${what} found (${where}${skippedText}); pass --state-dir`)
}

/** The apps in one `.dsu/` that hold `marker`: the unnamed one and those under apps/, or just `name`. */
function appsAt(dotDsu: string, name: string | undefined, marker: string, skipped: string[]): Array<{ dir: string; name?: string }> {
  if (!fs.existsSync(dotDsu)) return []
  const distrust = untrustedReason(dotDsu)
  if (distrust) {
    skipped.push(distrust)
    return []
  }
  const found: Array<{ dir: string; name?: string }> = []
  const consider = (dir: string, appName?: string): void => {
    if (!fs.existsSync(path.join(dir, marker))) return
    const reason = untrustedReason(dir)
    if (reason) skipped.push(reason)
    else found.push(appName === undefined ? { dir } : { dir, name: appName })
  }
  if (name !== undefined) {
    consider(path.join(dotDsu, APPS_DIR, name), name)
    return found
  }
  consider(dotDsu)
  let names: string[] = []
  try {
    names = fs.readdirSync(path.join(dotDsu, APPS_DIR))
  } catch {
    // no named apps here
  }
  for (const n of names.sort()) consider(path.join(dotDsu, APPS_DIR, n), n)
  return found
}

/** Sends one request; calls onEvent for each event line; resolves with the result. */
export function request(stateDir: string, message: ControlRequest, onEvent: (event: unknown) => void = () => {}): Promise<unknown> {
  const file = controlSocketPath(stateDir)
  return new Promise((resolve, reject) => {
    const socket = net.connect(file)
    let buffer = ''
    let settled = false
    const settle = (fn: () => void): void => {
      if (settled) return
      settled = true
      fn()
    }
    socket.setEncoding('utf8')
    socket.once('connect', () => socket.write(JSON.stringify(message) + '\n'))
    socket.on('data', (chunk: string) => {
      buffer += chunk
      let nl: number
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        const reply = parseReply(line)
        if (reply === null) {
          socket.destroy()
          settle(() => reject(new DsuError('DSU_ERR_CONTROL_MESSAGE',
            `the supervisor at ${file} sent a reply that is not a dsu control reply (${JSON.stringify(line.slice(0, 80))})`)))
          return
        }
        if (reply.type === 'event') onEvent(reply.event)
        else if (reply.type === 'result') settle(() => resolve(reply.result))
        else settle(() => reject(fromWire(reply.error)))
      }
    })
    socket.once('error', (cause) => settle(() => reject(new DsuError('DSU_ERR_NO_SUPERVISOR',
      `cannot reach the supervisor at ${file}: ${cause.message}${orphanNote(path.dirname(file))}`, { cause }))))
    socket.once('close', () => settle(() => reject(new DsuError('DSU_ERR_NO_SUPERVISOR',
      `the supervisor at ${file} closed the connection without an answer`))))
  })
}

/** When the supervisor died and left its program serving (runtime/program/orphan.ts): what to do. */
function orphanNote(dir: string): string {
  const adopt = adoptSocketPath(dir)
  try {
    if (!fs.lstatSync(adopt).isSocket()) return ''
  } catch {
    return ''
  }
  return `; its supervisor died, and the program it ran may still serve and wait to be re-adopted at ${adopt}: start \`dsu run <entry> --state-dir ${dir}\` (no --restore) to re-adopt it with its state`
}

/** A reply line, or null when it is not JSON of a reply's shape (the socket may not be ours). */
function parseReply(line: string): ControlReply | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const reply = value as { type?: unknown; error?: unknown }
  if (reply.type === 'event' || reply.type === 'result') return value as ControlReply
  if (reply.type === 'error' && typeof reply.error === 'object' && reply.error !== null
    && typeof (reply.error as { code?: unknown }).code === 'string' && typeof (reply.error as { message?: unknown }).message === 'string') {
    return value as ControlReply
  }
  return null
}
