// Marked state as a readable, portable file: `dsu state export` writes one,
// `dsu run --restore <file.json>` seeds a cold start from one.
//
// The file is JSON written by superjson, so Map, Set, Date, BigInt, RegExp,
// undefined and shared references keep their types (its `meta` records them):
//   { "format": "dsu-state/1", "version": "1.2.0", "exportedAt": "…",
//     "roots": { "json": { "accounts": [["a0", { "balance": 10 }]] },
//                "meta": { "values": { "accounts": ["map", { "0.1": [["class", "Account"]] }] } } } }
// A registered class instance is superjson's ["class", "<travelling name>"]
// around its own fields; a registered type's value is ["custom", "<type name>"]
// around what its serialize() returned (itself a superjson { json, meta }).
//
// Neither the CLI nor the supervisor has the program's classes: they meet
// them only as names. Decoding a checkpoint for export gives each class name
// a stand-in class (an empty class of that name) and each type's data a
// TypedData; importing does the reverse, and the stand-ins travel under those
// names, so the program revives them with its own classes and codecs.
//
// The transfer path does not use any of this: it stays on the v8 codec.

import { SuperJSON } from 'superjson'
import { DsuError } from '../errors.js'
import { FrameReader, frameHead } from './framing.js'
import { FrameType, StateDecoder, encodeRoots, type TransferStats } from './state-codec.js'
import { classNameOf, NULL_PROTO_TAG, registerClass, registerType, type Resolver, type TypeCodec } from './registry.js'
import { describeRoot, type RootKind } from '../protocol.js'

export const STATE_FILE_FORMAT = 'dsu-state/1'

const TYPED_ARRAYS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
]

/** A registered type's value outside the program: its name and what its serialize() returned. */
export class TypedData {
  constructor(readonly type: string, readonly data: unknown) {}
  // Samples in `dsu state` show `lru(<data>)`.
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    return `${this.type}(${inspect(this.data, options)})`
  }
}

// One stand-in class per travelling name, per process: the same name always
// maps to the same class, so registering it twice is harmless.
const standIns = new Map<string, { cls: new () => object; name: string }>()
const standInNames = new Map<object, string>()
function standIn(name: string): new () => object {
  let known = standIns.get(name)
  if (known === undefined) {
    // A named class expression, so util.inspect shows `Account { … }` in samples.
    const cls = { [name]: class {} }[name]!
    known = { cls, name }
    standIns.set(name, known)
    standInNames.set(cls.prototype as object, name)
  }
  return known.cls
}

/** The travelling class name of a stand-in instance, if it is one. */
export function standInName(value: object): string | undefined {
  return standInNames.get(Object.getPrototypeOf(value) as object)
}

/** Decoding for export: classes as stand-ins, types as TypedData. */
export const exportResolver: Resolver = (tag) => {
  if (tag === NULL_PROTO_TAG) return { proto: null }
  const name = tag.slice(2)
  if (tag.startsWith('c:')) return { proto: standIn(name).prototype as object }
  return { codec: { isApplicable: () => false, serialize: (v: unknown) => v, deserialize: (data: unknown) => new TypedData(name, data) } }
}

// A superjson instance that knows the given class and type names.
function superjsonFor(classes: Iterable<string>, types: Iterable<string>): SuperJSON {
  const sj = new SuperJSON()
  // Typed arrays, which superjson has no type for, as base64 of their bytes
  // under names a user's type cannot take (registerType names have no "dsu:" use).
  for (const T of TYPED_ARRAYS) {
    sj.registerCustom<ArrayBufferView, string>({
      isApplicable: (v): v is ArrayBufferView => v instanceof T && Object.getPrototypeOf(v) === T.prototype,
      serialize: (v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'),
      deserialize: (s) => {
        const bytes = Buffer.from(String(s), 'base64')
        if (bytes.length % T.BYTES_PER_ELEMENT !== 0) throw new Error(`dsu:${T.name}: ${bytes.length} bytes is not a whole number of elements`)
        const copy = new Uint8Array(bytes) // aligned, owned
        return new T(copy.buffer, 0, bytes.length / T.BYTES_PER_ELEMENT)
      },
    }, `dsu:${T.name}`)
  }
  for (const name of classes) sj.registerClass(standIn(name), { identifier: name })
  for (const name of types) {
    sj.registerCustom<TypedData, ReturnType<SuperJSON['serialize']> & Record<string, never>>({
      isApplicable: (v): v is TypedData => v instanceof TypedData && v.type === name,
      // Nested superjson: the data may hold Maps, Dates and instances itself.
      serialize: (v) => sj.serialize(v.data as never) as never,
      deserialize: (j) => new TypedData(name, sj.deserialize(j as never)),
    }, name)
  }
  return sj
}

export interface RootSummary {
  name: string
  kind: RootKind
  /** Entries of a collection root, 1 for any other value. */
  count: number
  /** Bytes of its frames in the snapshot (v8 encoding). */
  bytes: number
  classes: string[]
  types: string[]
}

export interface DecodedSnapshot {
  roots: Map<string, unknown>
  summaries: RootSummary[]
  stats: TransferStats
}

/** Decodes a state stream (a checkpoint file's bytes) for export. */
export function decodeSnapshot(stream: Buffer): DecodedSnapshot {
  const decoder = new StateDecoder({ resolve: exportResolver })
  const bytes = new Map<string, number>()
  let current: string | undefined
  let pending = 0
  new FrameReader().push(stream, (frame) => {
    const type = frame[0]
    if (type === FrameType.ROOT || type === FrameType.BEGIN || type === FrameType.PATCH) {
      const at = type === FrameType.BEGIN ? 2 : 1
      current = frame.toString('utf8', at + 4, at + 4 + frame.readUInt32BE(at))
    }
    // A TYPES frame belongs to the payload frame right after it.
    if (type === FrameType.TYPES) pending += frame.length
    else if (current !== undefined && type !== FrameType.DONE) {
      bytes.set(current, (bytes.get(current) ?? 0) + frame.length + pending)
      pending = 0
    }
    decoder.push(frame)
  })
  const roots = decoder.finish()
  const summaries = [...roots].map(([name, value]): RootSummary => {
    // A root that is a registered type's value counts 1, as the stream counts it.
    const { kind, count } = value instanceof TypedData ? { kind: 'value' as const, count: 1 } : describeRoot(name, value)
    const found = registeredIn(value)
    return { name, kind, count, bytes: bytes.get(name) ?? 0, classes: [...found.classes].sort(), types: [...found.types].sort() }
  })
  return { roots, summaries, stats: decoder.stats }
}

// The class and type names a decoded value holds (an iterative walk: a deep value must not overflow the stack).
function registeredIn(value: unknown): { classes: Set<string>; types: Set<string> } {
  const classes = new Set<string>()
  const types = new Set<string>()
  const seen = new Set<object>()
  const todo: unknown[] = [value]
  while (todo.length > 0) {
    const v = todo.pop()
    if (typeof v !== 'object' || v === null || seen.has(v)) continue
    seen.add(v)
    if (v instanceof TypedData) {
      types.add(v.type)
      todo.push(v.data)
      continue
    }
    const name = standInName(v)
    if (name !== undefined) classes.add(name)
    if (v instanceof Map) for (const [k, x] of v) todo.push(k, x)
    else if (v instanceof Set) for (const x of v) todo.push(x)
    else if (Array.isArray(v)) for (const x of v) todo.push(x)
    else if (!(v instanceof Date) && !(v instanceof RegExp) && !ArrayBuffer.isView(v)) for (const x of Object.values(v)) todo.push(x)
  }
  return { classes, types }
}

export interface ExportMeta {
  version: string
  exportedAt: string
  /** The checkpoint the export was taken from. */
  checkpoint?: string
}

/** The state file's text: superjson of the roots (an object by root name), with its header. */
export function exportState(snapshot: DecodedSnapshot, meta: ExportMeta, only?: readonly string[]): string {
  const picked = only === undefined ? [...snapshot.roots] : [...snapshot.roots].filter(([name]) => only.includes(name))
  const summaries = snapshot.summaries.filter((s) => picked.some(([name]) => name === s.name))
  const sj = superjsonFor(new Set(summaries.flatMap((s) => s.classes)), new Set(summaries.flatMap((s) => s.types)))
  // An own "__proto__" root name stays a key (assignment would set the prototype).
  const object: Record<string, unknown> = {}
  for (const [name, value] of picked) Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true })
  const file = { format: STATE_FILE_FORMAT, ...meta, roots: sj.serialize(object as never) }
  return JSON.stringify(file, null, 2) + '\n'
}

function bad(source: string, message: string, cause?: unknown): DsuError {
  return new DsuError('DSU_ERR_STATE_FILE', `${source}: ${message}`, cause === undefined ? undefined : { cause })
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v)

// Every ["class", name] and ["custom", name] annotation in superjson meta.
function annotations(meta: unknown): { classes: Set<string>; types: Set<string> } {
  const classes = new Set<string>()
  const types = new Set<string>()
  const todo: unknown[] = [meta]
  while (todo.length > 0) {
    const v = todo.pop()
    if (typeof v !== 'object' || v === null) continue
    if (Array.isArray(v)) {
      if (v.length === 2 && typeof v[1] === 'string' && v[1] !== '' && !v[1].startsWith('dsu:')) {
        if (v[0] === 'class') classes.add(v[1])
        else if (v[0] === 'custom') types.add(v[1])
      }
      todo.push(...v)
    } else {
      todo.push(...Object.values(v))
    }
  }
  return { classes, types }
}

export interface ParsedStateFile {
  version: string
  roots: Map<string, unknown>
}

/**
 * Reads a state file's text; anything that is not one, or that holds what
 * marked state cannot, is DSU_ERR_STATE_FILE naming what is wrong. `source`
 * names the file in messages.
 */
export function parseStateFile(text: string, source: string): ParsedStateFile {
  let file: unknown
  try {
    file = JSON.parse(text)
  } catch (error) {
    throw bad(source, `not JSON (${(error as Error).message}); a state file is what \`dsu state export\` writes`, error)
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw bad(source, `holds ${describe(file)}, not a dsu state file`)
  const f = file as Record<string, unknown>
  if (f.format !== STATE_FILE_FORMAT) throw bad(source, `"format" is ${JSON.stringify(f.format) ?? 'missing'}, expected "${STATE_FILE_FORMAT}"`)
  if (typeof f.version !== 'string' || f.version === '' || f.version.length > 256) throw bad(source, '"version" must be the non-empty version label the state was exported from')
  const roots = f.roots
  if (typeof roots !== 'object' || roots === null || Array.isArray(roots)) throw bad(source, `"roots" must be superjson's { json, meta }, got ${describe(roots)}`)
  const { json, meta } = roots as Record<string, unknown>
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(source, `"roots.json" must be an object of roots by name, got ${describe(json)}`)
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) throw bad(source, `"roots.meta" must be an object, got ${describe(meta)}`)
  const names = annotations(meta)
  let value: unknown
  try {
    // Unknown class names are no reason to refuse here: the program decides
    // whether it registers them (DSU_ERR_CLASS_MISSING if not).
    value = superjsonFor(names.classes, names.types).deserialize({ json, meta } as never)
  } catch (error) {
    const message = error instanceof RangeError ? 'nested too deeply' : (error as Error).message
    throw bad(source, `"roots" is not valid superjson: ${message}`, error)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(source, `"roots" decodes to ${describe(value)}, not an object of roots`)
  const out = new Map<string, unknown>()
  for (const name of Object.keys(value)) out.set(name, (value as Record<string, unknown>)[name])
  return { version: f.version, roots: out }
}

/**
 * The state stream (length-prefixed frames, as a checkpoint file holds it) of
 * parsed roots. Stand-ins and TypedData travel under their names: this
 * registers them in this process's registry, which is why only processes that
 * hold no program state (the supervisor, the CLI) may call it.
 */
export function encodeStateFile(parsed: ParsedStateFile, source: string): { stream: Buffer; stats: TransferStats } {
  for (const [name, { cls }] of standIns) registerStandIn(cls, name, source)
  for (const type of typeNames(parsed.roots)) registerTyped(type, source)
  const parts: Buffer[] = []
  const frames = encodeRoots(parsed.roots)
  let stats: TransferStats
  try {
    for (;;) {
      const next = frames.next()
      if (next.done) {
        stats = next.value
        break
      }
      parts.push(frameHead(next.value), next.value)
    }
  } catch (error) {
    throw bad(source, `holds what marked state cannot: ${(error as Error).message}`, error)
  }
  return { stream: Buffer.concat(parts), stats }
}

function typeNames(roots: Map<string, unknown>): Set<string> {
  const types = new Set<string>()
  for (const value of roots.values()) for (const t of registeredIn(value).types) types.add(t)
  return types
}

// Registered once per process; a stand-in already registered under its name is left as it is.
function registerStandIn(cls: new () => object, name: string, source: string): void {
  if (classNameOf(cls.prototype as object) === name) return
  try {
    registerClass(cls, { name })
  } catch (error) {
    throw bad(source, (error as Error).message, error)
  }
}

const typedCodecs = new Map<string, TypeCodec>()
function registerTyped(name: string, source: string): void {
  let codec = typedCodecs.get(name)
  if (codec === undefined) {
    codec = {
      isApplicable: (v) => v instanceof TypedData && v.type === name,
      serialize: (v: TypedData) => v.data,
      deserialize: (data) => new TypedData(name, data),
    }
    typedCodecs.set(name, codec)
  }
  try {
    registerType(name, codec) // the same codec again is no error
  } catch (error) {
    throw bad(source, (error as Error).message, error)
  }
}
