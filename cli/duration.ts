// Durations on the command line: "500ms", "30s", "5m", "1h", or plain milliseconds,
// up to what a Node timer can wait (MAX_DEADLINE_MS, about 24.8 days).
import { MAX_DEADLINE_MS } from '../runtime/supervisor/deadlines.js'

export function parseDuration(text: string | number): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text > 0 && text <= MAX_DEADLINE_MS ? text : null
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!m) return null
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h']
  const value = Number(m[1]) * unit
  return value > 0 && value <= MAX_DEADLINE_MS ? value : null
}
