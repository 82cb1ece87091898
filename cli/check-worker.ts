// `dsu check`'s worker, run as its own process so a transformer under test
// never runs inside the CLI or the supervisor: decodes a verified checkpoint,
// runs pre-flight, the transformer (or chain) and its validators, and the
// A → B → A round trip when an inverse is declared. Prints one JSON report.
//   node check-worker.js '<json args>'
import util from 'node:util'
import { toWire, type WireError } from '../runtime/errors.js'
import { FrameReader } from '../runtime/transfer/framing.js'
import { StateDecoder } from '../runtime/transfer/state-codec.js'
import { plainResolver } from '../runtime/transfer/registry.js'
import { readVerifiedCheckpoint } from '../runtime/supervisor/checkpoint-store.js'
import { metaOf, preflight, roundTrip } from '../transformers/index.js'
import { describeRoot, type RootManifest } from '../runtime/protocol.js'
import { describeChoice, type TransformerChoice } from '../runtime/transformer-choice.js'
import { loadChoice } from '../runtime/program/transformer-source.js'

export interface CheckArgs {
  stateDir: string
  snapshot: string
  to: string
  /** What maps the state (transformer-choice.ts); the report shows its file or directory. */
  transformer: TransformerChoice | null
  samples: number
}

export interface CheckReport {
  ok: boolean
  snapshot: { id: string; version: string; createdAt: string; bytes: number }
  from: string
  to: string
  transformer: string | null
  before: RootManifest[]
  after: RootManifest[]
  samples: Array<{ root: string; key: string; before: string; after: string }>
  warnings: string[]
  errors: WireError[]
  roundTrip: { checked: boolean; difference: { path: string; detail: string } | null }
}

function manifestOf(roots: Map<string, unknown>): RootManifest[] {
  return [...roots].map(([name, value]) => describeRoot(name, value))
}

function firstKeys(value: unknown, n: number): unknown[] {
  if (value instanceof Map) return [...value.keys()].slice(0, n)
  if (Array.isArray(value)) return value.slice(0, n).map((_, i) => i)
  if (typeof value === 'object' && value !== null && !(value instanceof Set)) return Object.keys(value).slice(0, n)
  return []
}

function entry(value: unknown, key: unknown): unknown {
  if (value instanceof Map) return value.get(key)
  return (value as Record<string, unknown>)[key as string]
}

const show = (v: unknown): string => util.inspect(v, { depth: 4, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 200 })

export async function check(args: CheckArgs): Promise<CheckReport> {
  const { checkpoint, data } = readVerifiedCheckpoint(args.stateDir, args.snapshot)
  // The checker registers no classes: registered values are shown as their plain fields / data.
  const decoder = new StateDecoder({ resolve: plainResolver })
  new FrameReader().push(data, (frame) => decoder.push(frame))
  const roots = decoder.finish()
  const versions = { from: checkpoint.version, to: args.to }
  const report: CheckReport = {
    ok: false, from: versions.from, to: versions.to, transformer: args.transformer?.kind === 'chain' ? args.transformer.path : describeChoice(args.transformer),
    snapshot: { id: checkpoint.id, version: checkpoint.version, createdAt: checkpoint.createdAt, bytes: checkpoint.bytes },
    before: manifestOf(roots), after: [], samples: [], warnings: [], errors: [], roundTrip: { checked: false, difference: null },
  }
  const sampleKeys = new Map([...roots].map(([name, value]) => [name, firstKeys(value, args.samples)]))
  const before = new Map([...roots].map(([name, value]) => [name, sampleKeys.get(name)!.map((k) => show(entry(value, k)))]))
  try {
    const transformer = await loadChoice(args.transformer, versions)
    if (!transformer) {
      report.warnings.push('no transformer: every root passes through unchanged')
      report.after = report.before
      report.ok = true
      return report
    }
    if (metaOf(transformer)) {
      const pre = preflight(transformer, { ...versions, roots: report.before })
      report.errors.push(...pre.problems.map((p) => ({ code: p.code, message: p.message })))
      report.warnings.push(...pre.warnings)
      // The real upgrade stops at pre-flight; running the rules would only repeat its errors.
      if (pre.problems.length > 0) return report
      if (metaOf(transformer)?.inverse) {
        report.roundTrip.checked = true
        report.roundTrip.difference = await roundTrip(transformer, Object.fromEntries(roots), versions)
      }
    }
    const out = await transformer(Object.fromEntries(roots), versions)
    const after = new Map(Object.entries(out))
    report.after = manifestOf(after)
    for (const [name, keys] of sampleKeys) {
      const value = after.get(name)
      keys.forEach((key, i) => report.samples.push({ root: name, key: String(key), before: before.get(name)![i]!, after: value === undefined ? '(root gone)' : show(entry(value, key)) }))
    }
  } catch (error) {
    report.errors.push(toWire(error, 'DSU_ERR_TRANSFORM_FAILED'))
  }
  report.ok = report.errors.length === 0 && report.roundTrip.difference === null
  return report
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  check(JSON.parse(process.argv[2]!) as CheckArgs).then(
    (report) => process.stdout.write(JSON.stringify(report) + '\n'),
    (error) => {
      process.stdout.write(JSON.stringify({ fatal: toWire(error) }) + '\n')
      process.exitCode = 1
    },
  )
}
