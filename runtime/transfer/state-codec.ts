// Encodes named roots into frames and decodes them back.
//
// A frame is one Buffer: [type u8][body]. Bodies by type:
//   ROOT  [u32 BE name length][name utf8][v8 payload of the whole value]
//   BEGIN [u8 kind][u32 BE name length][name utf8]   start of a chunked root
//         (kind 5: a plain object with a null prototype, chunked as kind 4)
//   CHUNK [v8 payload of a flat array of entries]     map: k,v,k,v  object: key,v,key,v
//                                                     set/array: v,v,v
//   RESET (empty)  drop the chunked root being built; a ROOT frame for it follows
//   END   (empty)  the chunked root is complete
//   DONE  [JSON { bytes, records, roots }]           last frame; the receiver checks it
//   PATCH [u32 BE name length][name utf8][v8 payload of a flat op list]
//         changes to a Map root already received (pre-copy): 1,key,value sets an
//         entry, 0,key deletes one
//   TYPES [v8 payload of [tags, element deltas | null, positions, tag ids | null]]
//         where the registered class instances and type values are in the
//         next ROOT, CHUNK or PATCH payload (class-codec.ts); plain data has none
//
// Large collections are chunked so the sender serializes chunk k+1 while the
// receiver deserializes chunk k. v8 keeps identity only inside one payload, so a
// reference shared across chunks (or back to the root) makes the encoder RESET
// and resend that root whole.

import v8 from 'node:v8'
import { DsuError, isDsuError } from '../errors.js'
import { decodeTable, encodeTable, missing, revive, substitute, type TypeTable } from './class-codec.js'
import { NULL_PROTO_TAG, registryResolver, type Resolver } from './registry.js'
import { SlotRoot, SlotRootError } from './slot-root.js'
import { Failure, Walker, tooDeep, type Marks } from './validate.js'

export interface TransferStats {
  /** Bytes of all frames before DONE (type bytes included, length prefixes not). */
  bytes: number
  /** Entries of collection roots (Map/Set/array/plain object), 1 per other root. */
  records: number
  roots: number
}

export interface EncodeOptions {
  /** Most entries per chunk; collections with more entries than this are chunked. */
  chunkSize?: number
  /** Chunks of big entries shrink towards this many bytes, to keep the pipeline moving. */
  chunkBytes?: number
}

// Measured on 100k records of ~120 bytes between two processes: 512-2048 entries
// per chunk were fastest; 8192 lost about a third of the overlap.
export const DEFAULT_CHUNK_SIZE = 2048
export const DEFAULT_CHUNK_BYTES = 256 * 1024

export const FrameType = { ROOT: 1, BEGIN: 2, CHUNK: 3, RESET: 4, END: 5, DONE: 6, PATCH: 7, TYPES: 8, SLOTS: 9, SLOTPATCH: 10, DROP: 11 } as const

/**
 * The frames of a PATCH: `ops` is the flat list 1,key,value (set) / 0,key
 * (delete); `marks` are what the walker of its values met (a TYPES frame first).
 */
export function patchFrames(name: string, ops: unknown[], marks?: Marks): Buffer[] {
  return withMarks(nameHead(FrameType.PATCH, name), ops, name, marks)
}

// A payload frame, preceded by a TYPES frame (and with registered types'
// values replaced) when its walk met registered values.
function withMarks(head: Buffer, value: unknown, rootName: string, marks: Marks | undefined): Buffer[] {
  if (marks === undefined) return [payloadFrame(head, value, rootName)]
  const payload = marks.subs.size > 0 ? substitute(value, marks.subs) : value
  return [Buffer.concat([TYPES_HEAD, encodeTable(marks)]), payloadFrame(head, payload, rootName)]
}
const TYPES_HEAD = Buffer.from([FrameType.TYPES])

/** The DONE frame closing a stream whose frames were counted in `stats`. */
export function doneFrame(stats: TransferStats): Buffer {
  return Buffer.concat([Buffer.from([FrameType.DONE]), Buffer.from(JSON.stringify(stats))])
}
export const Kind = { MAP: 1, SET: 2, ARRAY: 3, OBJECT: 4 } as const
/** BEGIN's kind for an OBJECT root whose prototype is null (Object.create(null)). */
const NULL_OBJECT = 5
export type Kind = (typeof Kind)[keyof typeof Kind]

// --- encoding ---------------------------------------------------------------

export function kindOf(value: unknown): Kind | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto === Map.prototype) return Kind.MAP
  if (proto === Set.prototype) return Kind.SET
  if (proto === Array.prototype) return Kind.ARRAY
  if (proto === Object.prototype || proto === null) return Kind.OBJECT
  return undefined
}

export function recordsOf(value: unknown): number {
  switch (kindOf(value)) {
    case Kind.MAP:
      return (value as Map<unknown, unknown>).size
    case Kind.SET:
      return (value as Set<unknown>).size
    case Kind.ARRAY:
      return (value as unknown[]).length
    case Kind.OBJECT:
      return Object.keys(value as object).length
    default:
      return 1
  }
}

function nameHead(type: number, name: string, kind?: Kind): Buffer {
  const bytes = Buffer.byteLength(name)
  const pre = kind === undefined ? 1 : 2
  const head = Buffer.allocUnsafe(pre + 4 + bytes)
  head[0] = type
  if (kind !== undefined) head[1] = kind
  head.writeUInt32BE(bytes, pre)
  head.write(name, pre + 4)
  return head
}

// The head goes into the serializer's own buffer, so the payload is not copied
// again to prepend it.
function payloadFrame(head: Buffer, value: unknown, rootName: string): Buffer {
  const ser = new v8.DefaultSerializer()
  ser.writeRawBytes(head)
  ser.writeHeader()
  try {
    ser.writeValue(value)
  } catch (error) {
    // Values the walk cannot see, e.g. a Proxy or a SharedArrayBuffer.
    const message = error instanceof Error ? error.message : String(error)
    throw new DsuError('DSU_ERR_UNSERIALIZABLE', `${rootName}: ${message}`, { cause: error })
  }
  return ser.releaseBuffer()
}

const CHUNK_HEAD = Buffer.from([FrameType.CHUNK])
const RESET_FRAME = Buffer.from([FrameType.RESET])
const END_FRAME = Buffer.from([FrameType.END])

function check(rootName: string, failure: Failure | undefined): void {
  if (failure) throw failure.toError(rootName)
}

// Stack overflow in the recursive walk on very deep data becomes a clear refusal.
function* guarded(rootName: string, frames: Generator<Buffer, void, void>): Generator<Buffer, void, void> {
  try {
    yield* frames
  } catch (error) {
    throw error instanceof RangeError ? tooDeep(rootName, error) : error
  }
}

/**
 * Lazily encodes roots into frames, validating as it goes. Throws
 * DSU_ERR_UNSERIALIZABLE (possibly after some frames were yielded) on the first
 * refused value. Returns the stats also sent in the final DONE frame.
 */
export function* encodeRoots(
  roots: ReadonlyMap<string, unknown>,
  options: EncodeOptions = {},
): Generator<Buffer, TransferStats, void> {
  const chunkSize = Math.max(1, Math.floor(options.chunkSize ?? DEFAULT_CHUNK_SIZE))
  const chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK_BYTES)
  const stats: TransferStats = { bytes: 0, records: 0, roots: 0 }
  for (const [name, value] of roots) {
    const kind = kindOf(value)
    const records = recordsOf(value)
    const frames =
      kind === undefined || records <= chunkSize ? encodeWhole(name, value) : encodeChunked(name, value as object, kind, chunkSize, chunkBytes)
    for (const frame of guarded(name, frames)) {
      stats.bytes += frame.length
      yield frame
    }
    stats.records += records
    stats.roots++
  }
  yield doneFrame(stats)
  return stats
}

function* encodeWhole(name: string, value: unknown): Generator<Buffer, void, void> {
  const walker = new Walker()
  check(name, walker.walk(value))
  yield* withMarks(nameHead(FrameType.ROOT, name), value, name, walker.takeMarks())
}

function* encodeChunked(
  name: string,
  root: object,
  kind: Kind,
  chunkSize: number,
  chunkBytes: number,
): Generator<Buffer, void, void> {
  const walker = new Walker()
  walker.claim(root) // a path back to the root crosses chunks
  let chunking = true
  let entries: unknown[] = []
  let count = 0
  let limit = chunkSize
  // Called when `count` entries are buffered; returns the CHUNK frame (after
  // its TYPES frame, if any) or nothing.
  const flush = (): Buffer[] | undefined => {
    const n = count
    count = 0
    walker.stamp++
    const marks = walker.takeMarks()
    if (!chunking) return undefined
    if (walker.crossed) {
      chunking = false
      entries = []
      return undefined
    }
    const frames = withMarks(CHUNK_HEAD, entries, name, marks)
    entries = []
    const bytes = frames[frames.length - 1]!.length
    limit = Math.max(1, Math.min(chunkSize, Math.floor((chunkBytes * n) / bytes)))
    return frames
  }

  const nullProto = kind === Kind.OBJECT && Object.getPrototypeOf(root) === null
  yield nameHead(FrameType.BEGIN, name, nullProto ? (NULL_OBJECT as Kind) : kind)
  let i = 0
  let frame: Buffer[] | undefined
  switch (kind) {
    case Kind.MAP:
      for (const [key, value] of root as Map<unknown, unknown>) {
        check(name, walker.chunkMapEntry(entries.length, i++, key, value))
        if (chunking) entries.push(key, value)
        if (++count >= limit && (frame = flush())) yield* frame
      }
      break
    case Kind.SET:
      for (const value of root as Set<unknown>) {
        walker.elementAt(entries.length)
        check(name, walker.setEntry(i++, value))
        if (chunking) entries.push(value)
        if (++count >= limit && (frame = flush())) yield* frame
      }
      break
    case Kind.ARRAY: {
      const array = root as unknown[]
      for (; i < array.length; i++) {
        const value = array[i]
        walker.elementAt(entries.length)
        check(name, walker.arrayEntry(i, value))
        if (chunking) entries.push(value)
        if (++count >= limit && (frame = flush())) yield* frame
      }
      break
    }
    case Kind.OBJECT: {
      const object = root as Record<string, unknown>
      for (const key of Object.keys(object)) {
        const value = object[key]
        walker.elementAt(entries.length + 1)
        check(name, walker.objectEntry(key, value))
        if (chunking) entries.push(key, value)
        if (++count >= limit && (frame = flush())) yield* frame
      }
      break
    }
  }
  if (count > 0 && (frame = flush())) yield* frame
  if (chunking && !walker.crossed) {
    yield END_FRAME
  } else {
    yield RESET_FRAME
    // Positions of registered values were counted per chunk: count again for the whole root.
    if (walker.marked || nullProto) yield* encodeWhole(name, root)
    else yield payloadFrame(nameHead(FrameType.ROOT, name), root, name)
  }
}

// --- decoding ---------------------------------------------------------------

function malformed(message: string, cause?: unknown): DsuError {
  return new DsuError('DSU_ERR_STATE_STREAM', `malformed state frame: ${message}`, cause === undefined ? undefined : { cause })
}

interface Building {
  name: string
  kind: Kind
  value: Map<unknown, unknown> | Set<unknown> | unknown[] | Record<string, unknown>
  records: number
}

function readName(frame: Buffer, at: number): { name: string; end: number } {
  if (frame.length < at + 4) throw malformed('truncated name')
  const end = at + 4 + frame.readUInt32BE(at)
  if (end > frame.length) throw malformed('name longer than frame')
  return { name: frame.toString('utf8', at + 4, end), end }
}

function deserialize(payload: Buffer): unknown {
  try {
    return v8.deserialize(payload)
  } catch (error) {
    throw malformed(`corrupted payload (${error instanceof Error ? error.message : String(error)})`, error)
  }
}

export interface DecodeOptions {
  /** How tags of registered values become values; default this process's registry. */
  resolve?: Resolver
  /**
   * Per root, what each entry of a pre-copied root goes through as it arrives
   * (the transformer's per-entry rules); such roots are listed in `ruled`.
   */
  entryRules?: ReadonlyMap<string, (value: unknown, key: unknown, index: number, kind: 'map' | 'set' | 'array' | 'object') => unknown>
}

const KIND_NAMES = { [Kind.MAP]: 'map', [Kind.SET]: 'set', [Kind.ARRAY]: 'array', [Kind.OBJECT]: 'object' } as const

/** Rebuilds roots from frames pushed in order; checks the DONE frame's counts. */
export class StateDecoder {
  readonly stats: TransferStats = { bytes: 0, records: 0, roots: 0 }
  private readonly roots = new Map<string, unknown>()
  // Roots arriving entry by entry (pre-copy, entry-copy.ts): complete at DONE.
  private readonly slotRoots = new Map<string, SlotRoot>()
  private partial: Building | undefined
  private finished = false
  private table: TypeTable | undefined
  private readonly resolve: Resolver
  private readonly entryRules: DecodeOptions['entryRules']
  /** Pre-copied roots whose entries went through their entry rule. */
  readonly ruled = new Set<string>()

  constructor(options: DecodeOptions = {}) {
    this.resolve = options.resolve ?? registryResolver()
    this.entryRules = options.entryRules
  }

  // The payload with its registered values revived, if a TYPES frame announced any.
  private revived(payload: unknown, elements: boolean): unknown {
    const table = this.table
    if (table === undefined) return payload
    this.table = undefined
    try {
      return revive(payload, table, this.resolve, elements)
    } catch (error) {
      if (isDsuError(error)) throw error
      throw malformed(`types frame does not fit its payload (${error instanceof Error ? error.message : String(error)})`, error)
    }
  }

  get done(): boolean {
    return this.finished
  }

  push(frame: Buffer): void {
    if (this.finished) throw malformed('frame after DONE')
    if (frame.length === 0) throw malformed('empty frame')
    const type = frame[0]
    if (type !== FrameType.DONE) this.stats.bytes += frame.length
    if (this.table !== undefined && type !== FrameType.ROOT && type !== FrameType.CHUNK && type !== FrameType.PATCH && type !== FrameType.SLOTS && type !== FrameType.SLOTPATCH) {
      throw malformed('types frame not followed by a payload')
    }
    switch (type) {
      case FrameType.TYPES: {
        let table: TypeTable
        try {
          table = decodeTable(frame.subarray(1))
        } catch (error) {
          throw malformed(`corrupted types frame (${error instanceof Error ? error.message : String(error)})`, error)
        }
        // A tag this version lacks fails now, naming what is missing, not halfway through a payload.
        for (const tag of table.tags) if (this.resolve(tag) === undefined) throw missing(tag)
        this.table = table
        return
      }
      case FrameType.ROOT: {
        if (this.partial) throw malformed(`root frame inside chunked root "${this.partial.name}"`)
        const { name, end } = readName(frame, 1)
        // A root that is itself a registered value counts 1, as its sender counted it.
        const table = this.table
        const registered = table !== undefined && table.elements[0] === -1 && table.positions[0] === 0 && table.tags[table.ids[0]!] !== NULL_PROTO_TAG
        const value = this.revived(deserialize(frame.subarray(end)), false)
        this.add(name, value, registered ? 1 : recordsOf(value))
        return
      }
      case FrameType.BEGIN: {
        if (this.partial) throw malformed(`begin inside chunked root "${this.partial.name}"`)
        if (frame.length < 2) throw malformed('truncated begin')
        const sent = frame[1]!
        const kind = (sent === NULL_OBJECT ? Kind.OBJECT : sent) as Kind
        const value =
          kind === Kind.MAP ? new Map() : kind === Kind.SET ? new Set() : kind === Kind.ARRAY ? [] : kind === Kind.OBJECT ? (sent === NULL_OBJECT ? Object.create(null) as Record<string, unknown> : {}) : undefined
        if (value === undefined) throw malformed(`unknown collection kind ${sent}`)
        this.partial = { name: readName(frame, 2).name, kind, value, records: 0 }
        return
      }
      case FrameType.CHUNK:
        return this.chunk(this.revived(deserialize(frame.subarray(1)), true))
      case FrameType.RESET:
        if (!this.partial) throw malformed('reset outside a chunked root')
        this.partial = undefined
        return
      case FrameType.END: {
        const partial = this.partial
        if (!partial) throw malformed('end outside a chunked root')
        this.partial = undefined
        // A Map or Set counts its distinct entries: a key the sender met twice
        // while the program changed the Map (pre-copy) is one record.
        const size = partial.value instanceof Map || partial.value instanceof Set ? partial.value.size : partial.records
        this.add(partial.name, partial.value, size)
        return
      }
      case FrameType.PATCH: {
        if (this.partial) throw malformed(`patch inside chunked root "${this.partial.name}"`)
        const { name, end } = readName(frame, 1)
        return this.patch(name, this.revived(deserialize(frame.subarray(end)), true))
      }
      case FrameType.SLOTS:
      case FrameType.SLOTPATCH:
      case FrameType.DROP:
        if (this.partial) throw malformed(`pre-copy frame inside chunked root "${this.partial.name}"`)
        return this.slots(type, frame)
      case FrameType.DONE:
        return this.done_(frame)
      default:
        throw malformed(`unknown frame type ${type}`)
    }
  }

  /** The decoded roots; throws DSU_ERR_STATE_STREAM unless DONE was received. */
  finish(): Map<string, unknown> {
    if (!this.finished) {
      throw new DsuError(
        'DSU_ERR_STATE_STREAM',
        `state stream ended before DONE (${this.stats.roots} roots, ${this.stats.bytes} bytes received)`,
      )
    }
    return this.roots
  }

  private add(name: string, value: unknown, records: number): void {
    if (this.roots.has(name)) throw malformed(`root "${name}" sent twice`)
    this.roots.set(name, value)
    this.stats.records += records
    this.stats.roots++
  }

  private patch(name: string, ops: unknown): void {
    const map = this.roots.get(name)
    if (!(map instanceof Map)) throw malformed(`patch for "${name}", which is not a received Map root`)
    if (!Array.isArray(ops)) throw malformed('patch is not an op list')
    const before = map.size
    for (let i = 0; i < ops.length; ) {
      const op = ops[i]
      if (op === 1 && i + 2 < ops.length) {
        map.set(ops[i + 1], ops[i + 2])
        i += 3
      } else if (op === 0) {
        map.delete(ops[i + 1])
        i += 2
      } else {
        throw malformed(`bad patch op ${String(op)}`)
      }
    }
    this.stats.records += map.size - before
  }

  private slots(type: number, frame: Buffer): void {
    const { name, end } = readName(frame, 1)
    if (this.roots.has(name)) throw malformed(`pre-copy frame for "${name}", which was already received`)
    try {
      if (type === FrameType.DROP) {
        this.slotRoots.delete(name)
        return
      }
      if (type === FrameType.SLOTPATCH) {
        const root = this.slotRoots.get(name)
        if (root === undefined) throw malformed(`patch for "${name}", which is not a pre-copied root`)
        const ops = this.revived(deserialize(frame.subarray(end)), true)
        if (!Array.isArray(ops)) throw malformed('patch is not an op list')
        return root.patch(ops)
      }
      if (frame.length < end + 5) throw malformed('truncated slots frame')
      const kind = frame[end]!
      const count = frame.readUInt32BE(end + 1)
      let root = this.slotRoots.get(name)
      if (root === undefined) {
        const rule = this.entryRules?.get(name)
        const kindName = KIND_NAMES[kind as Kind]
        if (kindName === undefined) throw malformed(`unknown collection kind ${kind}`)
        this.slotRoots.set(name, (root = new SlotRoot(kind, rule && ((value, key, slot) => rule(value, key, slot, kindName)))))
      }
      else if (root.kind !== kind) throw malformed(`slots of "${name}" change kind`)
      // Keys first (Map, object), then values; the list is k, v, k, v as in a CHUNK.
      const paired = kind === Kind.MAP || kind === Kind.OBJECT
      const entries: unknown[] = new Array(paired ? count * 2 : count)
      try {
        const des = new v8.Deserializer(frame.subarray(end + 5))
        des.readHeader()
        if (paired) {
          for (let i = 0; i < count; i++) entries[2 * i] = des.readValue()
          for (let i = 0; i < count; i++) entries[2 * i + 1] = des.readValue()
        } else {
          for (let i = 0; i < count; i++) entries[i] = des.readValue()
        }
      } catch (error) {
        throw malformed(`corrupted payload (${error instanceof Error ? error.message : String(error)})`, error)
      }
      root.add(this.revived(entries, true) as unknown[])
    } catch (error) {
      if (error instanceof SlotRootError) throw malformed(`pre-copied root "${name}": ${error.message}`, error)
      throw error
    }
  }

  private chunk(entries: unknown): void {
    const partial = this.partial
    if (!partial) throw malformed('chunk outside a chunked root')
    if (!Array.isArray(entries)) throw malformed('chunk is not an entry list')
    const n = entries.length
    switch (partial.kind) {
      case Kind.MAP: {
        if (n % 2 !== 0) throw malformed('odd map chunk')
        const map = partial.value as Map<unknown, unknown>
        for (let i = 0; i < n; i += 2) map.set(entries[i], entries[i + 1])
        partial.records += n / 2
        return
      }
      case Kind.SET: {
        const set = partial.value as Set<unknown>
        for (let i = 0; i < n; i++) set.add(entries[i])
        partial.records += n
        return
      }
      case Kind.ARRAY: {
        const array = partial.value as unknown[]
        for (let i = 0; i < n; i++) array.push(entries[i])
        partial.records += n
        return
      }
      case Kind.OBJECT: {
        if (n % 2 !== 0) throw malformed('odd object chunk')
        const object = partial.value as Record<string, unknown>
        for (let i = 0; i < n; i += 2) {
          const key = String(entries[i])
          // Plain assignment to "__proto__" would change the prototype instead.
          if (key === '__proto__') Object.defineProperty(object, key, { value: entries[i + 1], enumerable: true, writable: true, configurable: true })
          else object[key] = entries[i + 1]
        }
        partial.records += n / 2
        return
      }
    }
  }

  private done_(frame: Buffer): void {
    if (this.partial) throw malformed(`DONE inside chunked root "${this.partial.name}"`)
    for (const [name, root] of this.slotRoots) {
      try {
        const { value, records } = root.finish()
        this.add(name, value, records)
        if (this.entryRules?.has(name)) this.ruled.add(name)
      } catch (error) {
        if (error instanceof SlotRootError) throw malformed(`pre-copied root "${name}": ${error.message}`, error)
        throw error
      }
    }
    this.slotRoots.clear()
    let sent: Partial<TransferStats> | undefined
    try {
      sent = JSON.parse(frame.toString('utf8', 1)) as Partial<TransferStats>
    } catch (error) {
      throw malformed('DONE is not JSON', error)
    }
    const got = this.stats
    if (sent?.bytes !== got.bytes || sent.records !== got.records || sent.roots !== got.roots) {
      throw malformed(`DONE announces ${JSON.stringify(sent)} but received ${JSON.stringify(got)}`)
    }
    this.finished = true
  }
}
