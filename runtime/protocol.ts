// Messages between the supervisor and a program's runtime, over Node's IPC
// channel. Only control messages travel here; bulk state goes over its own
// Unix socket (see transfer/state-stream.ts). Handles (listening sockets,
// accepted connections) ride along as the second argument of `.send()`.
import type { WireError } from './errors.js'

export const ENV_ROLE = 'DSU_ROLE'
export const ENV_VERSION = 'DSU_VERSION'
export const ENV_TRANSFORMER = 'DSU_TRANSFORMER'
export const ENV_LISTENERS = 'DSU_LISTENERS'
/** A directory of transformers, one per version pair: the chain is composed from it. */
export const ENV_TRANSFORMERS = 'DSU_TRANSFORMERS'
/** The running version's label, for chains and pre-flight. */
export const ENV_FROM = 'DSU_FROM'
/** The running version's roots (names, kinds, counts; no values), for pre-flight. */
export const ENV_MANIFEST = 'DSU_MANIFEST'
/** `dsu run --workers N`: this process's worker index (0…N-1) and N. */
export const ENV_WORKER = 'DSU_WORKER'
export const ENV_WORKERS = 'DSU_WORKERS'
/**
 * Where a program whose supervisor died waits to be re-adopted: a Unix socket
 * in the state dir (program/orphan.ts, supervisor/adoption.ts).
 */
export const ENV_ADOPT_SOCKET = 'DSU_ADOPT_SOCKET'

/** A WebSocket moving with its connection: its subprotocol and the program's data (JSON). */
/** `deflate`: the permessage-deflate parameters negotiated (no context takeover), when compressed. */
/** A long-lived response moving with its socket: the program's data, and whether its body is chunked. */
export interface LongLivedHandOver { data: unknown; chunked: boolean }
export interface WebSocketHandOver { protocol: string; data: unknown; deflate?: Record<string, unknown> }
/**
 * A connection sent ahead during the pause (its handle went with a 'connection'
 * message carrying `ahead`), adopted at commit as it says: a plain connection,
 * a WebSocket or a long-lived response.
 */
export interface AheadAdoption { key: string; id: number; ws?: WebSocketHandOver; stream?: LongLivedHandOver }
/** Sent-ahead connections, told apart from another upgrade's by `tag`. */
export interface Ahead { tag: string; id: number }

export type RootKind = 'map' | 'set' | 'array' | 'object' | 'value'
export interface RootManifest {
  name: string
  kind: RootKind
  count: number
  precopy?: boolean
  /** Names of registered classes whose instances the root holds (only when the program registered any). */
  classes?: string[]
  /** Names of registered types whose values the root holds. */
  types?: string[]
}

/** A root's kind and size, as pre-flight and `dsu check` see it: no values. */
export function describeRoot(name: string, value: unknown): RootManifest {
  if (value instanceof Map) return { name, kind: 'map', count: value.size }
  if (value instanceof Set) return { name, kind: 'set', count: value.size }
  if (Array.isArray(value)) return { name, kind: 'array', count: value.length }
  if (typeof value === 'object' && value !== null) return { name, kind: 'object', count: Object.keys(value).length }
  return { name, kind: 'value', count: 1 }
}

/** How the supervisor started this process. */
export type Role = 'primary' | 'successor'

// program -> supervisor. A reply echoes the `seq` of the request it answers
// as `ack` (REPLIES below): the supervisor matches replies by it, as node's
// cluster matches `ack` to `seq` (lib/internal/cluster/utils.js), so a late
// reply to an earlier request can never answer a later one.
export type ProgramMessage = (
  /** `acks`: this runtime echoes `seq` in every reply (runtimes before it matched by type). */
  | { dsu: 'hello'; role: Role; version: string; pid: number; entry?: string; adopted?: boolean; acks?: boolean }
  | { dsu: 'listener'; key: string; address: string } // + listening handle
  | { dsu: 'booted' }
  /** `ahead`: how many frozen connections' handles follow, sent ahead (quiesce's `moveAhead`). */
  | { dsu: 'quiesced'; ahead?: { tag: string; count: number } }
  | { dsu: 'quiesce-failed'; error: WireError }
  | { dsu: 'sent'; bytes: number; records: number; roots: number }
  | { dsu: 'precopied'; rounds: number; lastRound: number; bytes: number }
  /** Pre-copy is moving: sent at most every `progressMs` while bytes flow. */
  | { dsu: 'precopy-progress'; bytes: number }
  | { dsu: 'caught-up'; bytes: number }
  | { dsu: 'send-failed'; error: WireError }
  | { dsu: 'receiving' }
  /** The whole stream is decoded; the transformer runs next. */
  | { dsu: 'decoded' }
  | { dsu: 'restored'; bytes: number; records: number; roots: number; transformMs: number }
  | { dsu: 'restore-failed'; error: WireError }
  | { dsu: 'ready' }
  | { dsu: 'active'; keys: string[] }
  | { dsu: 'connection'; key: string; ws?: WebSocketHandOver; stream?: LongLivedHandOver; ahead?: Ahead } // + accepted connection handle
  /** Commit: which sent-ahead connections the new version adopts, and how; it closes the others. */
  | { dsu: 'adopt-ahead'; tag: string; connections: AheadAdoption[] }
  | { dsu: 'handed-off'; connections: number }
  | { dsu: 'checkpointed'; bytes: number; records: number; roots: number }
  | { dsu: 'manifest'; roots: RootManifest[] }
  | { dsu: 'checkpoint-failed'; error: WireError }
  /** The program does something dsu cannot supervise (node:cluster, a listen() in a worker thread): dsu run stops with this error. */
  | { dsu: 'refused'; error: WireError }
) & { ack?: number }

// supervisor -> program. `seq` numbers a request that expects replies (REPLIES).
export type SupervisorMessage = (
  /**
   * `moveAhead`: an upgrade's tag; once quiesced, the old version sends its
   * frozen connections' handles ahead to the new version, which holds them
   * unread until commit (a rollback leaves the old version's own copies).
   */
  | { dsu: 'quiesce'; timeoutMs: number; moveAhead?: string }
  | { dsu: 'resume' }
  | { dsu: 'send-state'; path: string; token: string; precopy?: boolean; progressMs?: number }
  | { dsu: 'finish-state' }
  | { dsu: 'await-bytes'; bytes: number }
  | { dsu: 'receive-state'; path: string; token: string; from: string; to: string }
  | { dsu: 'activate'; keys: string[] }
  | { dsu: 'listen-handle'; key: string } // + listening handle
  | { dsu: 'commit' }
  | { dsu: 'connection'; key: string; ws?: WebSocketHandOver; stream?: LongLivedHandOver; ahead?: Ahead } // + accepted connection handle
  | { dsu: 'adopt-ahead'; tag: string; connections: AheadAdoption[] }
  | { dsu: 'stop'; timeoutMs: number }
  | { dsu: 'checkpoint'; path: string; token: string; timeoutMs: number }
  | { dsu: 'manifest' }
) & { seq?: number }

/**
 * The requests that expect replies, and the replies each may get (with its
 * seq as their `ack`). A reply carrying `error` fails its request. Every
 * other message is an event: hello, listener, booted and ready (milestones a
 * program reaches once), connection, refused, and restore-failed without an
 * ack (the new version failed on its own: a transformer that did not load, a
 * root it never declared).
 */
export const REPLIES = {
  manifest: ['manifest'],
  quiesce: ['quiesced', 'quiesce-failed'],
  'send-state': ['precopy-progress', 'precopied', 'sent', 'send-failed'],
  'finish-state': ['sent', 'send-failed'],
  'await-bytes': ['caught-up'],
  'receive-state': ['receiving', 'decoded', 'restored', 'restore-failed'],
  activate: ['active'],
  commit: ['handed-off'],
  checkpoint: ['checkpointed', 'checkpoint-failed'],
} as const satisfies Partial<Record<SupervisorMessage['dsu'], readonly ProgramMessage['dsu'][]>>
export type RequestType = keyof typeof REPLIES
export type RequestMessage = Extract<SupervisorMessage, { dsu: RequestType }>
export type ReplyType<R extends RequestType> = (typeof REPLIES)[R][number]

const isString = (v: unknown): v is string => typeof v === 'string'
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isWireError = (v: unknown): boolean => isObject(v) && isString(v.code) && isString(v.message) && (v.phase === undefined || isString(v.phase))
const isRoot = (v: unknown): boolean => isObject(v) && isString(v.name) && isString(v.kind) && isCount(v.count)
const counts = (...fields: string[]) => (m: Record<string, unknown>): boolean => fields.every((f) => isCount(m[f]))
const isAhead = (v: unknown): boolean => isObject(v) && isString(v.tag) && isCount(v.id)
const failure = (m: Record<string, unknown>): boolean => isWireError(m.error)
const none = (): boolean => true
/** Each program message's required fields: what the supervisor reads from it. */
const SHAPES: Record<ProgramMessage['dsu'], (m: Record<string, unknown>) => boolean> = {
  hello: (m) => (m.role === 'primary' || m.role === 'successor') && isString(m.version) && isCount(m.pid) && (m.entry === undefined || isString(m.entry)),
  listener: (m) => isString(m.key) && isString(m.address),
  booted: none,
  quiesced: (m) => m.ahead === undefined || (isObject(m.ahead) && isString(m.ahead.tag) && isCount(m.ahead.count)),
  'quiesce-failed': failure,
  sent: counts('bytes', 'records', 'roots'),
  precopied: counts('rounds', 'lastRound', 'bytes'),
  'precopy-progress': counts('bytes'),
  'caught-up': counts('bytes'),
  'send-failed': failure,
  receiving: none,
  decoded: none,
  restored: counts('bytes', 'records', 'roots', 'transformMs'),
  'restore-failed': failure,
  ready: none,
  active: (m) => Array.isArray(m.keys) && m.keys.every(isString),
  connection: (m) => isString(m.key) && (m.ws === undefined || isObject(m.ws)) && (m.stream === undefined || isObject(m.stream)) && (m.ahead === undefined || isAhead(m.ahead)),
  'adopt-ahead': (m) => isString(m.tag) && Array.isArray(m.connections) && m.connections.every((c) => isObject(c) && isString(c.key) && isCount(c.id) && (c.ws === undefined || isObject(c.ws)) && (c.stream === undefined || isObject(c.stream))),
  'handed-off': counts('connections'),
  checkpointed: counts('bytes', 'records', 'roots'),
  manifest: (m) => Array.isArray(m.roots) && m.roots.every(isRoot),
  'checkpoint-failed': failure,
  refused: failure,
}

/**
 * A message from a program as the supervisor may use it, or null: the
 * program is user code, and a malformed message (an unknown type, a missing
 * field, a non-integer ack) is ignored, never trusted.
 */
export function parseProgramMessage(value: unknown): ProgramMessage | null {
  if (!isObject(value) || !isString(value.dsu) || !Object.hasOwn(SHAPES, value.dsu)) return null
  if (value.ack !== undefined && !(Number.isSafeInteger(value.ack) && (value.ack as number) > 0)) return null
  return SHAPES[value.dsu as ProgramMessage['dsu']](value) ? value as ProgramMessage : null
}

export function isDsuMessage(value: unknown): value is { dsu: string } {
  return typeof value === 'object' && value !== null && typeof (value as { dsu?: unknown }).dsu === 'string'
}
