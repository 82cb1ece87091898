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

// program -> supervisor
export type ProgramMessage =
  | { dsu: 'hello'; role: Role; version: string; pid: number; entry?: string; adopted?: boolean }
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

// supervisor -> program
export type SupervisorMessage =
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

export function isDsuMessage(value: unknown): value is { dsu: string } {
  return typeof value === 'object' && value !== null && typeof (value as { dsu?: unknown }).dsu === 'string'
}
