// The control socket's protocol: the client writes one JSON request line; the
// supervisor answers with zero or more event lines and one final line.
import { DsuError, type WireError } from '../errors.js'
import { deadlinesProblem, MAX_DEADLINE_MS, type Deadlines } from './deadlines.js'
import { STRATEGIES, type Strategy } from './fleet-upgrade.js'

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'stop'; timeoutMs?: number }
  | { cmd: 'checkpoint'; list: boolean }
  | { cmd: 'rollback'; deadlines?: Partial<Deadlines>; strategy?: Strategy }
  /** `deadlines`: ms per phase it names; the others keep the supervisor's (`dsu run --timeout`). `strategy`: with several workers. */
  | { cmd: 'upgrade'; entry: string; transformer: string | null; transformers?: string | null; deadlines?: Partial<Deadlines>; version?: string; strategy?: Strategy }

export type ControlReply =
  | { type: 'event'; event: unknown }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: WireError }

/** Validates a request line; a malformed one is a named error, never a crash. */
export function parseRequest(line: string): ControlRequest {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw new DsuError('DSU_ERR_CONTROL_MESSAGE', `control request is not JSON: ${line.slice(0, 80)}`)
  }
  const bad = (why: string): never => {
    throw new DsuError('DSU_ERR_CONTROL_MESSAGE', `control request ${line.slice(0, 80)}: ${why}`)
  }
  if (typeof value !== 'object' || value === null) return bad('expected an object')
  const r = value as Record<string, unknown>
  switch (r.cmd) {
    case 'status':
      return { cmd: 'status' }
    case 'stop':
      if (r.timeoutMs !== undefined && !isPositive(r.timeoutMs)) return bad(`timeoutMs must be a positive number of ms up to ${MAX_DEADLINE_MS}`)
      return { cmd: 'stop', timeoutMs: r.timeoutMs as number | undefined }
    case 'rollback':
      return { cmd: 'rollback', deadlines: deadlines(r.deadlines, bad), ...strategy(r.strategy, bad) }
    case 'checkpoint':
      if (r.list !== undefined && typeof r.list !== 'boolean') return bad('list must be a boolean')
      return { cmd: 'checkpoint', list: r.list === true }
    case 'upgrade':
      if (typeof r.entry !== 'string' || r.entry === '') return bad('entry must be a non-empty string')
      if (r.transformer !== null && typeof r.transformer !== 'string') return bad('transformer must be a string or null')
      if (r.version !== undefined && typeof r.version !== 'string') return bad('version must be a string')
      if (r.transformers !== undefined && r.transformers !== null && typeof r.transformers !== 'string') return bad('transformers must be a string or null')
      return { cmd: 'upgrade', entry: r.entry, transformer: r.transformer as string | null, transformers: (r.transformers as string | null | undefined) ?? null, deadlines: deadlines(r.deadlines, bad), version: r.version as string | undefined, ...strategy(r.strategy, bad) }
    default:
      return bad(`unknown cmd ${JSON.stringify(r.cmd)}`)
  }
}

function isPositive(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_DEADLINE_MS
}

function deadlines(value: unknown, bad: (why: string) => never): Partial<Deadlines> | undefined {
  if (value === undefined) return undefined
  const problem = deadlinesProblem(value)
  return problem ? bad(`deadlines: ${problem}`) : { ...(value as Partial<Deadlines>) }
}

function strategy(value: unknown, bad: (why: string) => never): { strategy?: Strategy } {
  if (value === undefined) return {}
  return STRATEGIES.includes(value as Strategy) ? { strategy: value as Strategy } : bad(`strategy must be ${STRATEGIES.join(' or ')}`)
}
