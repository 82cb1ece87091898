// Turns a transformer spec (versions + rules) into the one function the
// runtime calls, with metadata attached for preflight, chains and round trips.
//
// The rules run in order over a shallow copy of the roots object, so a root no
// rule names keeps its identity and costs nothing. Consecutive path rules on
// the same records (e.g. three field rules on `customers.*`) are fused into one
// walk, each rule's closure compiled once, here.

import { DsuError } from '../runtime/errors.js'
import { attachMeta, type CompiledTransformer, type LinkMeta, type Roots, type RuleInfo, type Transformer, type TransformerMeta, type Versions } from './meta.js'
import { formatPath, indexSegment, mapValueSegment, propSegment, RuleFailure, ruleError, setSegment, threw, withSegment } from './paths.js'
import type { Class, CompileContext, PathRule, Rule } from './rules.js'
import { validateRoots, type Schemas } from './validate.js'
import { versionMatches } from './versions.js'
import { compileWalk, type Visit } from './walk.js'

export interface TransformerSpec {
  /** The old version this transformer applies to: exact (`1.0.0`) or a pattern (`1.x`). */
  from: string
  /** The new version. */
  to: string
  /** Applied in order; a rule after renameRoot uses the new name. */
  rules: Rule[]
  /** Classes of the new version that revive('path', 'Name') may name. */
  classes?: Record<string, Class>
  /** The roots the new version marks; any other root left at the end is an error. */
  declared?: string[]
  /** Expected shape of new roots, checked after the rules (any Standard Schema v1). */
  schemas?: Schemas
  /** The way back, to → from, for round-trip checks. */
  inverse?: Transformer | TransformerSpec
}

type Stage = (roots: Roots, versions: Versions) => Roots | Promise<Roots>

export function compileTransformer<From extends Roots = Roots, To extends Roots = Roots>(spec: TransformerSpec): CompiledTransformer<From, To> {
  checkSpec(spec)
  const context: CompileContext = { classes: spec.classes ?? {} }
  const groups = groupRules(spec.rules)
  const stages = groups.map((group) => (Array.isArray(group) ? pathStage(group, context) : rootStage(group)))
  const { entryRules, prefixRoots } = entryStages(groups, context)
  const declared = spec.declared ? new Set(spec.declared) : undefined
  const schemas = spec.schemas
  const link: LinkMeta = {
    from: spec.from,
    to: spec.to,
    rules: spec.rules.map(ruleInfo),
    ...(spec.declared ? { declared: [...spec.declared] } : {}),
    ...(schemas ? { schemas } : {}),
  }
  const inverse = spec.inverse === undefined ? undefined : typeof spec.inverse === 'function' ? spec.inverse : compileTransformer(spec.inverse)
  const meta: TransformerMeta = { ...link, links: [link], ...(inverse ? { inverse } : {}) }

  const run = async (old: Roots, versions: Versions, options: RunOptions = {}): Promise<Roots> => {
    if (!versionMatches(spec.from, versions.from) || !versionMatches(spec.to, versions.to)) {
      throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer ${spec.from} → ${spec.to} does not apply to the upgrade ${versions.from} → ${versions.to}`)
    }
    let roots: Roots = { ...old }
    const done = options.entriesDone
    for (let i = 0; i < stages.length; i++) {
      // Roots whose entries went through their entry rules as they arrived (pre-copy).
      const root = prefixRoots[i]
      if (root !== undefined && done?.has(root)) continue
      const next = stages[i]!(roots, versions)
      roots = next instanceof Promise ? await next : next
    }
    if (declared) {
      const extra = Object.keys(roots).filter((name) => !declared.has(name))
      if (extra.length) throw undeclared(versions, extra)
    }
    if (schemas) await validateRoots(roots, schemas, versions)
    return roots
  }
  const compiled = attachMeta(run as Transformer, meta)
  if (entryRules.size > 0) entryRulesByTransformer.set(compiled, entryRules)
  return compiled as unknown as CompiledTransformer<From, To>
}

export interface RunOptions {
  /** Roots whose entries already went through entryRulesOf(transformer), one by one. */
  entriesDone?: ReadonlySet<string>
}

/** Kind of the collection an entry is in, for its path in an error. */
export type EntryKind = 'map' | 'set' | 'array' | 'object'
/** The rules of one root that apply to each entry alone: value in, value to keep out. */
export type EntryRule = (value: unknown, key: unknown, index: number, kind: EntryKind, versions: Versions) => unknown

const entryRulesByTransformer = new WeakMap<object, ReadonlyMap<string, EntryRule>>()

/**
 * The per-entry rules of a compiled transformer, by root: the leading path
 * rules whose path starts with `root.*` (renameClass rules between them do
 * nothing at run time). The receiver of a pre-copy applies them to entries as
 * they arrive and tells run() which roots are done (RunOptions); every rule
 * after them runs on the whole state as before. Undefined for anything else.
 */
export function entryRulesOf(transformer: unknown): ReadonlyMap<string, EntryRule> | undefined {
  return typeof transformer === 'function' ? entryRulesByTransformer.get(transformer) : undefined
}

function entryStages(groups: readonly (PathRule[] | Exclude<Rule, PathRule>)[], context: CompileContext): { entryRules: Map<string, EntryRule>; prefixRoots: (string | undefined)[] } {
  const visits = new Map<string, Array<{ visit: Visit; label: string }>>()
  const prefixRoots: (string | undefined)[] = []
  let prefix = true
  for (const group of groups) {
    if (prefix && Array.isArray(group) && group[0]!.target.steps[0]?.kind === 'each') {
      const first = group[0]!
      const operations = group.map((rule) => rule.operation(context))
      const operation = operations.reduce<Visit>((a, b) => (value) => b(a(value)), operations.shift()!)
      const visit = compileWalk(first.target.steps.slice(1), operation, group.some((rule) => rule.replaces))
      const list = visits.get(first.target.root) ?? []
      list.push({ visit, label: group.map((rule) => rule.label).join(' + ') })
      visits.set(first.target.root, list)
      prefixRoots.push(first.target.root)
    } else {
      if (Array.isArray(group) || group.kind !== 'renameClass') prefix = false
      prefixRoots.push(undefined)
    }
  }
  const entryRules = new Map<string, EntryRule>()
  for (const [root, list] of visits) {
    entryRules.set(root, (value, key, index, kind, versions) => {
      let v = value
      for (const { visit, label } of list) {
        try {
          v = visit(v)
        } catch (error) {
          const segment = kind === 'map' ? mapValueSegment(key, index) : kind === 'set' ? setSegment(index) : kind === 'array' ? indexSegment(index) : propSegment(String(key))
          const failure = withSegment(error, segment)
          throw ruleError(versions, failure.code, failure.rule ?? label, failure.path(root), failure.detail, failure.cause)
        }
      }
      return v
    })
  }
  return { entryRules, prefixRoots }
}

export function undeclared(versions: Versions, names: readonly string[]): DsuError {
  return new DsuError(
    'DSU_ERR_UNDECLARED_ROOT',
    `${versions.from} → ${versions.to}: ${names.length === 1 ? 'root' : 'roots'} ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} neither declared by ${versions.to} nor dropped by the transformer`,
  )
}

function checkSpec(spec: TransformerSpec): void {
  const bad = (why: string): never => {
    throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer spec: ${why}`)
  }
  if (typeof spec !== 'object' || spec === null) bad('expected an object { from, to, rules }')
  if (typeof spec.from !== 'string' || spec.from === '' || typeof spec.to !== 'string' || spec.to === '') bad('from and to must be version labels')
  if (!Array.isArray(spec.rules)) bad('rules must be an array')
  spec.rules.forEach((rule, i) => {
    if (typeof rule !== 'object' || rule === null || typeof (rule as { kind?: unknown }).kind !== 'string') bad(`rules[${i}] is not a rule (use addField, convert, renameRoot, …)`)
  })
}

// Consecutive path rules with the same target become one group (one walk).
function groupRules(rules: readonly Rule[]): (PathRule[] | Exclude<Rule, PathRule>)[] {
  const groups: (PathRule[] | Exclude<Rule, PathRule>)[] = []
  let key = ''
  for (const rule of rules) {
    if (rule.kind !== 'path') {
      groups.push(rule)
      key = ''
      continue
    }
    const ruleKey = formatPath(rule.target)
    const last = groups[groups.length - 1]
    if (Array.isArray(last) && ruleKey === key) last.push(rule)
    else groups.push([rule])
    key = ruleKey
  }
  return groups
}

function pathStage(group: PathRule[], context: CompileContext): Stage {
  const first = group[0]!
  const root = first.target.root
  const label = group.map((rule) => rule.label).join(' + ')
  const operations = group.map((rule) => rule.operation(context))
  const operation = operations.reduce<Visit>((a, b) => (value) => b(a(value)), operations.shift()!)
  const visit = compileWalk(first.target.steps, operation, group.some((rule) => rule.replaces))
  const where = formatPath(first.target)
  return (roots, versions) => {
    if (!Object.hasOwn(roots, root)) throw missingRoot(versions, label, where, root, roots)
    const old = roots[root]
    let next: unknown
    try {
      next = visit(old)
    } catch (error) {
      const failure = error instanceof RuleFailure ? error : threw(error)
      throw ruleError(versions, failure.code, failure.rule ?? label, failure.path(root), failure.detail, failure.cause)
    }
    if (next !== old) roots[root] = next
    return roots
  }
}

function rootStage(rule: Exclude<Rule, PathRule>): Stage {
  switch (rule.kind) {
    case 'renameRoot':
      return (roots, versions) => {
        need(roots, versions, rule.label, [rule.from])
        if (rule.to !== rule.from) {
          free(roots, versions, rule.label, [rule.to])
          roots[rule.to] = roots[rule.from]
          delete roots[rule.from]
        }
        return roots
      }
    case 'dropRoot':
      return (roots, versions) => {
        need(roots, versions, rule.label, rule.names)
        for (const name of rule.names) delete roots[name]
        return roots
      }
    case 'splitRoot':
      return (roots, versions) => {
        need(roots, versions, rule.label, [rule.name])
        free(roots, versions, rule.label, Object.keys(rule.into).filter((name) => name !== rule.name))
        const value = roots[rule.name]
        const out: Roots = {}
        for (const [name, fn] of Object.entries(rule.into)) out[name] = call(versions, rule.label, rule.name, () => fn(value))
        delete roots[rule.name]
        return Object.assign(roots, out)
      }
    case 'mergeRoots':
      return (roots, versions) => {
        need(roots, versions, rule.label, rule.names)
        free(roots, versions, rule.label, rule.names.includes(rule.into) ? [] : [rule.into])
        const values = rule.names.map((name) => roots[name])
        const merged = call(versions, rule.label, rule.into, () => rule.merge(...values))
        for (const name of rule.names) delete roots[name]
        roots[rule.into] = merged
        return roots
      }
    case 'renameClass':
      // Done while the state was decoded (see classRenames); the roots are already right.
      return (roots) => roots
    case 'custom':
      return async (roots, versions) => {
        let result: unknown
        try {
          result = await rule.fn({ ...roots }, versions)
        } catch (error) {
          const failure = threw(error)
          throw ruleError(versions, failure.code, rule.label, undefined, failure.detail, error)
        }
        if (typeof result !== 'object' || result === null || Array.isArray(result)) {
          throw ruleError(versions, 'DSU_ERR_TRANSFORM_FAILED', rule.label, undefined, `returned ${result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result}; it must return an object of root name → value`)
        }
        return { ...(result as Roots) }
      }
  }
}

function call(versions: Versions, label: string, at: string, fn: () => unknown): unknown {
  try {
    return fn()
  } catch (error) {
    const failure = threw(error)
    throw ruleError(versions, failure.code, label, at, failure.detail, error)
  }
}

function need(roots: Roots, versions: Versions, label: string, names: readonly string[]): void {
  for (const name of names) if (!Object.hasOwn(roots, name)) throw missingRoot(versions, label, name, name, roots)
}

function free(roots: Roots, versions: Versions, label: string, names: readonly string[]): void {
  for (const name of names) {
    if (Object.hasOwn(roots, name)) throw ruleError(versions, 'DSU_ERR_TRANSFORM_RULE', label, name, 'root already exists; drop or rename it first')
  }
}

function missingRoot(versions: Versions, label: string, at: string, root: string, roots: Roots): DsuError {
  const have = Object.keys(roots)
  return ruleError(versions, 'DSU_ERR_TRANSFORM_RULE', label, at, `root ${root} does not exist (roots: ${have.length ? have.join(', ') : 'none'})`)
}

function ruleInfo(rule: Rule): RuleInfo {
  const base = { kind: rule.kind, label: rule.label, requires: [] as string[], consumes: [] as string[], produces: [] as string[], opaque: false }
  switch (rule.kind) {
    case 'path':
      return {
        ...base,
        requires: [rule.target.root],
        // Pre-flight checks the root's kind against the first step; json() is a string inside.
        steps: rule.target.steps.flatMap((step) => (step.kind === 'json' ? [] : [step.kind === 'each' ? '*' as const : { field: step.name }])),
      }
    case 'renameRoot':
      return rule.from === rule.to ? { ...base, requires: [rule.from] } : { ...base, consumes: [rule.from], produces: [rule.to] }
    case 'dropRoot':
      return { ...base, consumes: [...rule.names] }
    case 'splitRoot':
      return { ...base, consumes: [rule.name], produces: Object.keys(rule.into) }
    case 'mergeRoots':
      return { ...base, consumes: [...rule.names], produces: [rule.into] }
    case 'custom':
      return { ...base, opaque: true, ...(rule.roots ? { result: [...rule.roots] } : {}) }
    case 'renameClass':
      return { ...base, classRename: { from: rule.from, to: rule.to } }
  }
}
