// The human `dsu history` table.
import t from 'tap'
import { formatHistory, formatMs, formatWhen } from './format.js'
import type { HistoryRow } from './journal.js'

const phases = { spawn: 73.4, precopy: null, quiesce: 1.38, transfer: 5.4, transform: 0.1, init: 0.3, ready: 0.04, commit: 2.38 }

const rows: HistoryRow[] = [
  {
    id: 12, from: '2.0.0', to: '3.0.0', fromEntry: null, toEntry: null, transformer: null, transformerChoice: null,
    startedAt: '2025-03-04T05:07:00.000Z', endedAt: '2025-03-04T05:07:00.020Z', outcome: 'rolled-back',
    phases: { ...phases, transform: null, init: null, ready: null, commit: null }, pauseMs: null, totalMs: 19.75, state: null,
    error: { code: 'DSU_ERR_UNSERIALIZABLE', message: 'x: function', phase: 'transfer', output: null },
  },
  {
    id: 11, from: '1.0.0', to: '2.0.0', fromEntry: '/a/v1.js', toEntry: '/a/v2.js', transformer: '/a/t.js', transformerChoice: { kind: 'file', path: '/a/t.js' },
    startedAt: '2025-03-04T05:06:07.000Z', endedAt: '2025-03-04T05:06:07.084Z', outcome: 'committed',
    phases, pauseMs: 8.86, totalMs: 1234.5, state: { bytes: 28, records: 2, roots: 1 }, error: null,
  },
]

t.test('formatHistory shows id, when, from → to, outcome, each phase that ran, pause, total and the failure', async (t) => {
  const out = formatHistory(rows, { utc: true })
  const lines = out.trimEnd().split('\n')
  t.equal(lines.length, 3)
  t.match(lines[0], /^ID\s+WHEN\s+FROM → TO\s+OUTCOME\s+SPAWN\s+QUIESCE\s+TRANSFER\s+TRANSFORM\s+INIT\s+READY\s+COMMIT\s+PAUSE\s+TOTAL\s+FAILED$/,
    'no PRECOPY column: no row ran it')
  t.match(lines[1], /^12\s+2025-03-04 05:07:00Z\s+2\.0\.0 → 3\.0\.0\s+rolled-back\s+73\.4 ms\s+1\.38 ms\s+5\.40 ms\s+-\s+-\s+-\s+-\s+-\s+19\.8 ms\s+transfer DSU_ERR_UNSERIALIZABLE$/)
  t.match(lines[2], /^11\s+2025-03-04 05:06:07Z\s+1\.0\.0 → 2\.0\.0\s+committed\s+73\.4 ms\s+1\.38 ms\s+5\.40 ms\s+0\.10 ms\s+0\.30 ms\s+0\.04 ms\s+2\.38 ms\s+8\.86 ms\s+1\.23 s\s+-$/)
  // Columns line up: every row's "from → to" and init start where the header's do.
  for (const [header, cell] of [['FROM', ['2.0.0', '1.0.0']], ['INIT', ['-', '0.30 ms']]] as const) {
    const col = lines[0]!.indexOf(header)
    t.equal(lines[1]!.slice(col).startsWith(cell[0]), true, `${header} column, row 1`)
    t.equal(lines[2]!.slice(col).startsWith(cell[1]), true, `${header} column, row 2`)
  }
  t.ok(out.endsWith('\n'))
})

t.test('a pre-copy phase gets its column when a row ran it', async (t) => {
  const row = { ...rows[1]!, phases: { ...phases, precopy: 40.5 } }
  const [header, line] = formatHistory([row], { utc: true }).split('\n')
  t.match(header, /SPAWN\s+PRECOPY\s+QUIESCE/)
  t.match(line, /73\.4 ms\s+40\.5 ms\s+1\.38 ms/)
})

t.test('formatHistory of nothing', async (t) => {
  t.equal(formatHistory([]), 'no upgrades recorded\n')
})

t.test('an error without a phase shows its code', async (t) => {
  const row = { ...rows[0]!, error: { code: 'DSU_ERR_SPAWN_FAILED', message: 'm', phase: null, output: null } }
  t.match(formatHistory([row]).split('\n')[1], /rolled-back\s+.*-\s+19\.8 ms\s+DSU_ERR_SPAWN_FAILED$/)
})

t.test('a rollback with the new version\'s output shows it under its row, printable', async (t) => {
  const failed: HistoryRow = {
    ...rows[0]!,
    error: { code: 'DSU_ERR_SPAWN_FAILED', message: 'exited with code 1', phase: 'spawn', output: 'Error: \x1b[31mno database\x1b[0m\n    at boot (/app/v3.js:4:7)' },
  }
  const lines = formatHistory([failed, rows[1]!], { utc: true }).split('\n')
  t.match(lines[1], /rolled-back\s+.*-\s+19\.8 ms\s+spawn DSU_ERR_SPAWN_FAILED$/)
  t.equal(lines[2], "    new version's output (last 2 lines):")
  t.equal(lines[3], '      Error: no database', 'colour codes stripped')
  t.equal(lines[4], '          at boot (/app/v3.js:4:7)', 'the program\'s own indentation kept')
  t.match(lines[5], /^11\s+/, 'the next row follows')
})

t.test('formatMs and formatWhen', async (t) => {
  t.equal(formatMs(0.1), '0.10 ms')
  t.equal(formatMs(8.864), '8.86 ms')
  t.equal(formatMs(73.44), '73.4 ms')
  t.equal(formatMs(2500), '2.50 s')
  t.equal(formatMs(null), '-')
  t.equal(formatWhen('2025-03-04T05:06:07.000Z', true), '2025-03-04 05:06:07Z')
  t.match(formatWhen('2025-03-04T05:06:07.000Z'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  t.equal(formatWhen('not a date'), 'not a date')
})
