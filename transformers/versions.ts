// Version matching for transformers and chains: exact labels, or patterns
// where `x` or `*` stands for any one component and, at the end, for the rest
// (`1.x` matches 1.0.0 and 1.4.2; `*` matches anything). No other semver ranges.

export function isPattern(version: string): boolean {
  return version.split('.').some((part) => part === 'x' || part === 'X' || part === '*')
}

export function versionMatches(pattern: string, version: string): boolean {
  if (pattern === version || pattern === '*') return true
  if (!isPattern(pattern)) return false
  const want = pattern.split('.')
  const have = version.split('.')
  for (let i = 0; i < want.length; i++) {
    const part = want[i]!
    const wild = part === 'x' || part === 'X' || part === '*'
    if (wild && i === want.length - 1) return have.length >= want.length
    if (i >= have.length) return false
    if (!wild && part !== have[i]) return false
  }
  return have.length === want.length
}

/** Orders versions numerically where they are numbers (1.10.0 after 1.9.0); for messages. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/)
  const pb = b.split(/[.-]/)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? ''
    const y = pb[i] ?? ''
    const nx = Number(x)
    const ny = Number(y)
    const c = x !== '' && y !== '' && !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y)
    if (c !== 0) return c
  }
  return 0
}
