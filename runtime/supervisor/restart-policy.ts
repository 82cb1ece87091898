// When a crashed program is started again: after a growing delay (doubling
// from `delayMs`, capped), and not at all once it crashed more than
// `maxRestarts` times within `windowMs` — a crash loop, reported, not fed.
export interface RestartPolicy {
  mode: 'no' | 'on-failure' | 'always'
  delayMs: number
  maxDelayMs: number
  maxRestarts: number
  windowMs: number
}

export const DEFAULT_RESTART: RestartPolicy = { mode: 'no', delayMs: 100, maxDelayMs: 10_000, maxRestarts: 5, windowMs: 60_000 }

/** Delay before the next restart, or null to give up. `crashes` are the times of earlier crashes, this one last. */
export function nextRestart(policy: RestartPolicy, crashes: number[], exitCode: number | null): number | null {
  if (policy.mode === 'no') return null
  if (policy.mode === 'on-failure' && exitCode === 0) return null
  const now = crashes[crashes.length - 1] ?? 0
  const recent = crashes.filter((t) => now - t < policy.windowMs).length
  if (recent > policy.maxRestarts) return null
  return Math.min(policy.maxDelayMs, policy.delayMs * 2 ** (recent - 1))
}
