// Every mistake findable without values, before an upgrade starts: the version
// pair does not fit, a rule names a root A does not have (or walks into a root
// of the wrong kind), a root would be created twice, and roots left over that
// B neither declares nor the transformer drops. Pure: reads metadata and the
// manifest only, so `dsu check` and the supervisor can run it anywhere.

import { DsuError, type ErrorCode } from '../runtime/errors.js'
import { undeclared } from './compile.js'
import { metaOf, opaqueMeta, type LinkMeta, type RuleInfo, type Versions } from './meta.js'
import { propSegment, ruleError } from './paths.js'
import { versionMatches } from './versions.js'

export type RootKind = 'map' | 'set' | 'array' | 'object' | 'value'

/** What the old version holds (names, kinds, sizes) and, if known, what the new one marks. */
export interface Manifest {
  from: string
  to: string
  roots: Array<{ name: string; kind: RootKind; count: number; classes?: string[]; types?: string[] }>
  /** Roots the new version marks with state(), if known; else the transformer's own `declared`. */
  declared?: string[]
}

export interface Problem {
  code: ErrorCode
  message: string
}

export interface PreflightReport {
  ok: boolean
  problems: Problem[]
  /** What preflight could not check (a function rule hides the roots after it). */
  warnings: string[]
}

export function preflight(transformer: unknown, manifest: Manifest): PreflightReport {
  const meta = metaOf(transformer) ?? opaqueMeta('*', '*')
  const problems: Problem[] = []
  const warnings: string[] = []
  const upgrade: Versions = { from: manifest.from, to: manifest.to }
  if (!versionMatches(meta.from, manifest.from) || !versionMatches(meta.to, manifest.to)) {
    problems.push({ code: 'DSU_ERR_TRANSFORMER_INVALID', message: `transformer ${meta.from} → ${meta.to} does not apply to the upgrade ${manifest.from} → ${manifest.to}` })
  }
  let roots: Map<string, RootKind | 'unknown'> | null = new Map(manifest.roots.map((root) => [root.name, root.kind]))
  meta.links.forEach((link, i) => {
    if (roots === null) return
    const versions: Versions = {
      from: i === 0 ? manifest.from : link.from,
      to: i === meta.links.length - 1 ? manifest.to : link.to,
    }
    roots = simulate(link, versions, roots, problems, warnings)
    const declared = i === meta.links.length - 1 ? (manifest.declared ?? link.declared) : link.declared
    if (roots && declared) {
      const set = new Set(declared)
      const extra = [...roots.keys()].filter((name) => !set.has(name))
      if (extra.length) problems.push({ code: 'DSU_ERR_UNDECLARED_ROOT', message: undeclared(versions, extra).message })
    } else if (roots && i === meta.links.length - 1) {
      warnings.push(`the roots ${manifest.to} marks are not known (pass manifest.declared or the transformer's declared); undeclared roots were not checked`)
    }
  })
  if (meta.links.length === 0 && manifest.declared) {
    const set = new Set(manifest.declared)
    const extra = manifest.roots.map((root) => root.name).filter((name) => !set.has(name))
    if (extra.length) problems.push({ code: 'DSU_ERR_UNDECLARED_ROOT', message: undeclared(upgrade, extra).message })
  }
  return { ok: problems.length === 0, problems, warnings }
}

/**
 * The registered classes and types the old version's roots hold (its
 * manifest) that the new version does not register: each would arrive with
 * nothing to become. `renames` are the transformer's renameClass rules
 * (classRenames). Pure, like preflight.
 */
export function registrationProblems(
  roots: Manifest['roots'],
  renames: ReadonlyMap<string, string>,
  registered: { classes: readonly string[]; types: readonly string[] },
  versions: Versions,
): Problem[] {
  const problems: Problem[] = []
  const classes = new Set(registered.classes)
  const types = new Set(registered.types)
  const known = (list: readonly string[]) => (list.length ? list.join(', ') : 'none')
  for (const root of roots) {
    for (const name of root.classes ?? []) {
      const target = renames.get(name) ?? name
      if (classes.has(target)) continue
      const via = target === name ? '' : ` (renamed to ${target} by renameClass)`
      problems.push({
        code: 'DSU_ERR_CLASS_MISSING',
        message: `${versions.from} → ${versions.to}: root ${root.name} holds instances of class ${name}${via}, which ${versions.to} does not register (it registers: ${known(registered.classes)}); call registerClass(${target}) before the first state() call, or map the name in the transformer with renameClass('${name}', '<new name>')`,
      })
    }
    for (const name of root.types ?? []) {
      if (types.has(name)) continue
      problems.push({
        code: 'DSU_ERR_TYPE_MISSING',
        message: `${versions.from} → ${versions.to}: root ${root.name} holds values of type "${name}", which ${versions.to} has no codec for (it registers: ${known(registered.types)}); call registerType('${name}', { isApplicable, serialize, deserialize }) before the first state() call`,
      })
    }
  }
  return problems
}

/** preflight, throwing one DsuError (the first problem's code) that lists every problem. */
export function assertPreflight(transformer: unknown, manifest: Manifest): PreflightReport {
  const report = preflight(transformer, manifest)
  const [first] = report.problems
  if (first) {
    const rest = report.problems.length > 1 ? `\n${report.problems.slice(1).map((p) => `${p.code}: ${p.message}`).join('\n')}` : ''
    throw new DsuError(first.code, `${first.message}${rest}`)
  }
  return report
}

// Runs one link's rules over root names and kinds; null once a function rule hides them.
function simulate(
  link: LinkMeta,
  versions: Versions,
  roots: Map<string, RootKind | 'unknown'>,
  problems: Problem[],
  warnings: string[],
): Map<string, RootKind | 'unknown'> | null {
  for (const rule of link.rules) {
    if (rule.opaque) {
      if (!rule.result) {
        warnings.push(`${versions.from} → ${versions.to}, rule ${rule.label} is a function; roots after it were not checked`)
        return null
      }
      roots = new Map(rule.result.map((name) => [name, roots.get(name) ?? 'unknown']))
      continue
    }
    const add = (code: ErrorCode, at: string, detail: string) =>
      problems.push({ code, message: ruleError(versions, code, rule.label, at, detail).message })
    for (const name of [...rule.requires, ...rule.consumes]) {
      if (!roots.has(name)) add('DSU_ERR_TRANSFORM_RULE', name, `root ${name} does not exist in ${versions.from} (roots: ${[...roots.keys()].join(', ') || 'none'})`)
    }
    if (rule.steps && rule.steps.length > 0) checkKind(rule, roots.get(rule.requires[0]!), add)
    for (const name of rule.produces) {
      if (roots.has(name) && !rule.consumes.includes(name)) add('DSU_ERR_TRANSFORM_RULE', name, 'root already exists; drop or rename it first')
    }
    const kind = rule.kind === 'renameRoot' ? roots.get(rule.consumes[0]!) : undefined
    for (const name of rule.consumes) roots.delete(name)
    for (const name of rule.produces) roots.set(name, kind ?? 'unknown')
  }
  return roots
}

function checkKind(rule: RuleInfo, kind: RootKind | 'unknown' | undefined, add: (code: ErrorCode, at: string, detail: string) => void): void {
  const root = rule.requires[0]!
  const step = rule.steps![0]!
  const at = root + (step === '*' ? '.*' : propSegment(step.field))
  if (kind === 'value') add('DSU_ERR_TRANSFORM_RULE', at, `root ${root} is a plain value, not a Map, Set, array or object`)
  else if (step !== '*' && (kind === 'map' || kind === 'set' || kind === 'array')) add('DSU_ERR_TRANSFORM_RULE', at, `root ${root} is a ${kind}; a field step needs an object (use * for its elements)`)
}
