// The human `dsu history` table: one line per upgrade, newest first (as given),
// with a column per phase (PHASES) that ran in any row shown.
//
//   ID  WHEN                 FROM → TO      OUTCOME      SPAWN    QUIESCE  TRANSFER  TRANSFORM  INIT     READY    COMMIT   PAUSE    TOTAL    FAILED
//   12  2025-01-02 03:04:05  1.0.0 → 2.0.0  committed    73.4 ms  1.38 ms  5.40 ms   0.10 ms    0.30 ms  0.04 ms  2.38 ms  8.86 ms  83.1 ms  -
//   11  2025-01-02 03:01:00  1.0.0 → 2.0.0  rolled-back  70.2 ms  -        -         -          -        -        -        -        75.0 ms  spawn DSU_ERR_SPAWN_FAILED
//     new version's output (last 1 line):
//       Error: cannot connect to the database
//
// A rollback the new version caused is followed by its last stderr lines.
import { outputBlock } from '../supervisor/output-tail.js'
import type { HistoryRow } from './journal.js'
import { PHASES } from '../supervisor/phases.js'

export interface FormatOptions {
  /** Show times in UTC instead of the local time zone. */
  utc?: boolean
}

/** A duration the way the CLI prints phases: 0.10 ms, 73.4 ms, 1.25 s; null → "-". */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  if (value < 10) return `${value.toFixed(2)} ms`
  if (value < 1000) return `${value.toFixed(1)} ms`
  return `${(value / 1000).toFixed(2)} s`
}

function pad2(n: number): string {
  return String(n).padStart(2, '0')
}

/** "YYYY-MM-DD HH:MM:SS", local time unless `utc`. */
export function formatWhen(isoTime: string, utc = false): string {
  const d = new Date(isoTime)
  if (!Number.isFinite(d.getTime())) return isoTime
  const [y, mo, da, h, mi, s] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()]
  return `${y}-${pad2(mo)}-${pad2(da)} ${pad2(h)}:${pad2(mi)}:${pad2(s)}${utc ? 'Z' : ''}`
}

/** The `dsu history` table, ending in a newline; "no upgrades recorded" when empty. */
export function formatHistory(rows: readonly HistoryRow[], options: FormatOptions = {}): string {
  if (rows.length === 0) return 'no upgrades recorded\n'
  // A phase no row ran (pre-copy, usually) takes no column.
  const phases = PHASES.filter((p) => rows.some((r) => typeof r.phases?.[p] === 'number'))
  const header = ['ID', 'WHEN', 'FROM → TO', 'OUTCOME', ...phases.map((p) => p.toUpperCase()), 'PAUSE', 'TOTAL', 'FAILED']
  const cells = rows.map((r) => [
    String(r.id),
    formatWhen(r.startedAt, options.utc),
    `${r.from} → ${r.to}`,
    r.outcome,
    ...phases.map((p) => formatMs(r.phases?.[p])),
    formatMs(r.pauseMs),
    formatMs(r.totalMs),
    r.error ? [r.error.phase, r.error.code].filter(Boolean).join(' ') : '-',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: readonly string[]): string =>
    c.map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()
  return line(header) + '\n' + cells.map((c, i) => {
    const output = rows[i]!.error?.output
    return line(c) + '\n' + workerLines(rows[i]!) + (output ? outputBlock(output, '    ') : '')
  }).join('')
}

/** An upgrade of several workers: one line per worker under its row. */
function workerLines(row: HistoryRow): string {
  if (!row.workers?.length) return ''
  return `    ${row.strategy ?? ''} upgrade of ${row.workers.length} workers:\n` + row.workers.map((w) => {
    const phases = PHASES.filter((p) => typeof w.phases?.[p] === 'number').map((p) => `${p} ${formatMs(w.phases[p])}`).join(', ')
    const failed = w.error ? `  ${[w.error.phase, w.error.code].filter(Boolean).join(' ')}` : ''
    return `      worker ${w.worker}  ${w.outcome.padEnd(11)}  pid ${w.pid}  pause ${formatMs(w.pauseMs)}  total ${formatMs(w.totalMs)}${phases ? `  (${phases})` : ''}${failed}\n`
  }).join('')
}
