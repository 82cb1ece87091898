// A hand-written SVG line chart: one line per series over the state sizes,
// logarithmic y axis in ms, optional target markers. No plotting dependency.

export interface Series { name: string; color: string; values: number[]; dashed?: boolean }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function lineChart(opts: { title: string; xLabels: string[]; series: Series[]; targets?: Array<number | null> }): string {
  const W = 760, H = 440, L = 70, R = 200, T = 40, B = 60
  const pw = W - L - R, ph = H - T - B
  const all = opts.series.flatMap((s) => s.values).concat((opts.targets ?? []).filter((t): t is number => t !== null))
  const pos = all.filter((v) => Number.isFinite(v) && v > 0)
  const lo = Math.floor(Math.log10(Math.max(Math.min(...pos), 1e-3)))
  const hi = Math.ceil(Math.log10(Math.max(...pos, 1)))
  const n = opts.xLabels.length
  const pad = 40
  const x = (i: number): number => L + (n === 1 ? pw / 2 : pad + (i * (pw - 2 * pad)) / (n - 1))
  const y = (v: number): number => T + ph - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo || 1)) * ph
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="15" font-weight="bold">${esc(opts.title)}</text>`,
  ]
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e).toFixed(1)
    out.push(`<line x1="${L}" x2="${L + pw}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${L - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`)
  }
  out.push(`<text x="16" y="${T + ph / 2}" transform="rotate(-90 16 ${T + ph / 2})" text-anchor="middle">ms (log scale)</text>`)
  opts.xLabels.forEach((label, i) => {
    out.push(`<line x1="${x(i)}" x2="${x(i)}" y1="${T}" y2="${T + ph}" stroke="#eee"/>`,
      `<text x="${x(i)}" y="${T + ph + 18}" text-anchor="middle">${esc(label)}</text>`)
  })
  out.push(`<text x="${L + pw / 2}" y="${H - 16}" text-anchor="middle">records in marked state</text>`,
    `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  opts.series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null)).filter((p): p is string => p !== null)
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`)
    for (const p of pts) {
      const [cx, cy] = p.split(',')
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${s.color}"/>`)
    }
    const ly = T + 10 + k * 20
    out.push(`<line x1="${L + pw + 14}" x2="${L + pw + 38}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      `<text x="${L + pw + 44}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`)
  })
  if (opts.targets?.some((t) => t !== null)) {
    opts.targets.forEach((t, i) => {
      if (t === null) return
      out.push(`<path d="M${x(i) - 9},${y(t)} h18" stroke="#000" stroke-width="3"/>`)
    })
    const ly = T + 10 + opts.series.length * 20
    out.push(`<path d="M${L + pw + 17},${ly} h18" stroke="#000" stroke-width="3"/>`,
      `<text x="${L + pw + 44}" y="${ly}" dominant-baseline="middle">pause target</text>`)
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}
