// Rule paths and failure paths.
//
// A rule path names where a rule applies: a root, then steps separated by dots,
// `*` for every element of a Map (values), Set, array or object (values), and
// `["odd key"]` for a field whose name is not an identifier:
//   customers            the root itself
//   customers.*          every value of the customers Map
//   users.*.sessions.*.expires
//   ["my root"].*["last seen"]
//   sessions.*.json()    every value of sessions is a JSON string (express-session's
//                        MemoryStore): parsed, the rest of the path applied, and
//                        written back as JSON
//
// A failure path names the exact value that failed, in the syntax of the state
// validator (runtime/transfer/validate.ts): customers.get("c7").cents, list[3],
// s.values()[1], o["a b"]. Failure paths are built only once something fails:
// the compiled walk throws a RuleFailure and each level on the way out adds
// its segment, so the hot path never touches a string.

import type { ErrorCode } from '../runtime/errors.js'
import { DsuError } from '../runtime/errors.js'
import { propSegment } from '../runtime/transfer/validate.js'

export { propSegment, indexSegment, setSegment, mapValueSegment } from '../runtime/transfer/validate.js'

export type Step = { readonly kind: 'field'; readonly name: string } | { readonly kind: 'each' } | { readonly kind: 'json' }

export interface RulePath {
  readonly root: string
  readonly steps: readonly Step[]
}

const EACH: Step = { kind: 'each' }
const JSON_STEP: Step = { kind: 'json' }

/** Parses a rule path; throws DSU_ERR_TRANSFORMER_INVALID naming the bad spot. */
export function parsePath(text: string): RulePath {
  if (typeof text !== 'string' || text === '') invalidPath(String(text), 'a path must be a non-empty string')
  const names: Step[] = []
  let i = 0
  while (i <= text.length) {
    if (text[i] === '[') {
      const end = text.indexOf('"]', i + 2)
      if (text[i + 1] !== '"' || end < 0) invalidPath(text, `unterminated ["…"] at ${i}`)
      let name: unknown
      try {
        name = JSON.parse(text.slice(i + 1, end + 1))
      } catch {
        invalidPath(text, `bad quoted name at ${i}`)
      }
      names.push({ kind: 'field', name: name as string })
      i = end + 2
    } else {
      let end = i
      while (end < text.length && text[end] !== '.' && text[end] !== '[') end++
      const name = text.slice(i, end)
      if (name === '') invalidPath(text, `empty step at ${i}`)
      names.push(name === '*' ? EACH : name === 'json()' ? JSON_STEP : { kind: 'field', name })
      i = end
    }
    if (i >= text.length) break
    if (text[i] === '.') {
      i++
      if (i >= text.length) invalidPath(text, 'trailing dot')
    } else if (text[i] !== '[') {
      invalidPath(text, `unexpected ${JSON.stringify(text[i])} at ${i}`)
    }
  }
  const [first, ...steps] = names
  if (!first || first.kind !== 'field') invalidPath(text, 'a path starts with a root name, not *')
  return { root: first.name, steps }
}

/** The canonical text of a rule path (identifiers bare, other names quoted). */
export function formatPath(path: RulePath): string {
  let out = path.root
  for (const step of path.steps) out += step.kind === 'each' ? '.*' : step.kind === 'json' ? '.json()' : propSegment(step.name)
  return out
}

function invalidPath(text: string, why: string): never {
  throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `rule path ${JSON.stringify(text)}: ${why}`)
}

/**
 * Thrown inside a compiled rule when a value does not fit (code
 * DSU_ERR_TRANSFORM_RULE) or a user function threw (DSU_ERR_TRANSFORM_FAILED).
 * `rule` is set by the rule that failed; a structural failure (a wildcard over
 * a number) leaves it to the caller, who knows the rule group.
 */
export class RuleFailure {
  readonly segments: string[] = [] // innermost first
  constructor(
    readonly detail: string,
    public rule?: string,
    readonly code: ErrorCode = 'DSU_ERR_TRANSFORM_RULE',
    readonly cause?: unknown,
  ) {}

  at(segment: string): this {
    this.segments.push(segment)
    return this
  }

  path(root: string): string {
    let out = root
    for (let i = this.segments.length - 1; i >= 0; i--) out += this.segments[i]
    return out
  }
}

/** Any throw on the way out becomes a RuleFailure carrying one more segment. */
export function withSegment(error: unknown, segment: string): RuleFailure {
  const failure = error instanceof RuleFailure ? error : threw(error)
  return failure.at(segment)
}

/** A failure for an exception thrown by user code (or by the runtime under it). */
export function threw(error: unknown, rule?: string): RuleFailure {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return new RuleFailure(`threw ${message}`, rule, 'DSU_ERR_TRANSFORM_FAILED', error)
}

/** `1.0.0 → 2.0.0, rule convert(balance → cents) at customers.get("c7").balance: expected number, got string` */
export function ruleError(
  versions: { from: string; to: string },
  code: ErrorCode,
  rule: string,
  at: string | undefined,
  detail: string,
  cause?: unknown,
): DsuError {
  const where = at === undefined ? '' : ` at ${at}`
  return new DsuError(code, `${versions.from} → ${versions.to}, rule ${rule}${where}: ${detail}`, cause === undefined ? undefined : { cause })
}
