// `--timeout` of `dsu run`, `dsu upgrade` and `dsu rollback`: one duration for
// every phase ("10s"; a plain number is milliseconds, as before), durations per
// phase ("precopy=120s,quiesce=5s"; the phases not named keep their default),
// or both ("20s,precopy=2m"). Parsed and checked here, once; what is wrong is
// a DSU_ERR_USAGE naming the part. The result is the structured value the
// control socket carries (runtime/supervisor/deadlines.ts).
import { DsuError } from '../runtime/errors.js'
import { deadlineProblem, everyPhase, MAX_DEADLINE_MS, type Deadlines } from '../runtime/supervisor/deadlines.js'
import { isPhase, PHASES } from '../runtime/supervisor/phases.js'
import { parseDuration } from './duration.js'

export interface Timeouts {
  /** The duration given for every phase, if one was. */
  all: number | null
  /** ms per phase: every phase when `all` was given, plus the ones named. */
  deadlines: Partial<Deadlines>
}

export function parseTimeouts(value: unknown): Timeouts {
  const usage = (why: string): never => {
    throw new DsuError('DSU_ERR_USAGE', `--timeout ${why}`)
  }
  if (Array.isArray(value)) return usage('was given more than once; name several phases in one: --timeout precopy=120s,quiesce=5s')
  if (typeof value !== 'string' && typeof value !== 'number') return usage('needs a value, e.g. 10s or precopy=120s,quiesce=5s')
  let all: number | null = null
  const named: Partial<Deadlines> = {}
  for (const part of String(value).split(',').map((p) => p.trim())) {
    if (part === '') return usage(`${JSON.stringify(String(value))}: an empty part`)
    const eq = part.indexOf('=')
    const name = eq === -1 ? null : part.slice(0, eq).trim()
    const ms = duration(eq === -1 ? part : part.slice(eq + 1), part, usage)
    if (name === null) {
      if (all !== null) return usage(`"${part}": one duration for every phase was given already`)
      all = ms
    } else if (!isPhase(name)) {
      return usage(`"${part}": unknown phase ${JSON.stringify(name)} (phases: ${PHASES.join(', ')})`)
    } else if (named[name] !== undefined) {
      return usage(`"${part}": ${name} was given twice`)
    } else {
      named[name] = ms
    }
  }
  return { all, deadlines: { ...(all === null ? {} : everyPhase(all)), ...named } }
}

function duration(text: string, part: string, usage: (why: string) => never): number {
  const ms = parseDuration(text.trim())
  if (ms === null) {
    // Say why: parseDuration refuses bad text, zero, and (on newer branches) too long alike.
    const numeric = /^(-)?(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim())
    if (!numeric) return usage(`"${part}": ${JSON.stringify(text.trim())} is not a duration (500ms, 30s, 5m, 1h, or plain milliseconds)`)
    return usage(numeric[1] || Number(numeric[2]) === 0 ? `"${part}": must be a positive duration` : `"${part}": ${deadlineProblem(MAX_DEADLINE_MS + 1)}`)
  }
  const problem = deadlineProblem(ms)
  return problem ? usage(`"${part}": ${problem}`) : ms
}
