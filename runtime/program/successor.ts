// The new version's side of an upgrade. It boots while the old version still
// serves; at its first state()/listen() call it loads the transformer and tells
// the supervisor it is booted, then receives the old roots over the state
// stream, transforms them, and resolves its state() calls. Its listen() calls
// wait for commit (only old code serves before commit: guarantee 2).
import fs from 'node:fs'
import net from 'node:net'
import { DsuError, isDsuError, toWire } from '../errors.js'
import { on, reply, send, hold } from './channel.js'
import { activate, inheritHandle, listenInternal, servers } from './listeners.js'
import { markedRoots, restoreFrom } from './roots.js'
import { ENV_LISTENERS, ENV_MANIFEST, ENV_TRANSFORMER, ENV_TRANSFORMERS, type LongLivedHandOver, type SupervisorMessage, type WebSocketHandOver } from '../protocol.js'
import { HeldConnections } from './held-connections.js'
import { registryResolver, type Resolver } from '../transfer/registry.js'
import { readiness, whenReady } from './ready.js'

export type Transformer = (roots: Record<string, unknown>, versions: { from: string; to: string }) => unknown


/**
 * Where the new version is, from its start to serving (tableflip's child.go
 * keeps one such state): each step below moves `stage` forward, and nothing
 * else decides what a message may do.
 *   starting   spawned; no state() or listen() call yet
 *   booting    loading the transformer and the stream reader
 *   booted     told the supervisor; waits for the state stream
 *   restored   the roots are in (transformed); the program's init runs
 *   ready      told the supervisor it is ready (every expected listener claimed, or ready())
 *   failed     told the supervisor why; the supervisor kills it
 */
type Stage = 'starting' | 'booting' | 'booted' | 'restored' | 'ready' | 'failed'

/** What the boot loads on use: a program that is never upgraded does not carry it. */
interface Loaded {
  transformer: Transformer | null
  /** renameClass rules act while decoding: instances arrive as the new classes. */
  resolve: Resolver
  receiveState: typeof import('../transfer/state-stream.js').receiveState
  entryRulesOf: (transformer: unknown) => ReturnType<typeof import('./transformer-source.js').entryRulesOf>
  acceptAuthenticated: typeof import('../transfer/stream-auth.js').acceptAuthenticated
}

class Successor {
  stage: Stage = 'starting'
  /** The listen keys the supervisor holds for it, and those its listen() calls claimed. */
  readonly expected: string[] = JSON.parse(process.env[ENV_LISTENERS] ?? '[]')
  readonly claimed = new Set<string>()
  /** Keeps the process alive from the boot until it is activated. */
  release: (() => void) | null = null
  booting: Promise<void> | null = null
  loaded: Loaded | null = null
  /** The state stream once connected, and who waits for it (pre-copy's await-bytes). */
  stream: net.Socket | null = null
  onStream: ((socket: net.Socket) => void) | null = null
  /** Root names after the transform, and the version pair, for the undeclared-root check. */
  transferred: string[] = []
  versions = { from: '', to: '' }
  /** What the program's state() calls await. */
  readonly roots: Promise<Map<string, unknown>>
  resolveRoots!: (roots: Map<string, unknown>) => void
  rejectRoots!: (error: unknown) => void

  constructor() {
    this.roots = new Promise((resolve, reject) => {
      this.resolveRoots = resolve
      this.rejectRoots = reject
    })
    this.roots.catch(() => {}) // surfaced through state(); the supervisor already knows
  }

  /** At the first state()/listen()/ready(): load what the upgrade needs, then say booted. */
  boot(): Promise<void> {
    this.booting ??= (async () => {
      this.stage = 'booting'
      this.release = hold()
      try {
        // The stream reader is loaded now, before the stream can open: a
        // stream that closed while it loaded would go unnoticed.
        // Loaded side by side; the DSL and its pre-flight (15 modules) only
        // when there is something for them to do.
        const [source, receiveState, acceptAuthenticated] = await Promise.all([
          nothingToTransform(process.env) ? null : import('./transformer-source.js'),
          import('../transfer/state-stream.js').then((m) => m.receiveState),
          import('../transfer/stream-auth.js').then((m) => m.acceptAuthenticated),
        ])
        const transformer = source ? await source.transformerFromEnv() : null
        this.loaded = {
          transformer,
          resolve: registryResolver(source ? source.renamesOf(transformer) : new Map()),
          receiveState,
          entryRulesOf: source ? source.entryRulesOf : () => undefined,
          acceptAuthenticated,
        }
      } catch (error) {
        this.stage = 'failed'
        await send({ dsu: 'restore-failed', error: toWire(error) })
        this.rejectRoots(error)
        return
      }
      this.stage = 'booted'
      await send({ dsu: 'booted' })
    })()
    return this.booting
  }

  /** Ready once restored and every expected listener is claimed (or the program called ready()). */
  checkReady(): void {
    if (this.stage !== 'restored') return
    const { explicit, called } = readiness()
    const ok = explicit ? called : this.expected.every((k) => this.claimed.has(k))
    if (!ok) return
    // A transferred root the new version never marked would be lost silently.
    const marked = markedRoots()
    const unclaimed = this.transferred.filter((name) => !marked.has(name))
    if (unclaimed.length > 0) {
      this.stage = 'failed'
      const { from, to } = this.versions
      void send({ dsu: 'restore-failed', error: toWire(new DsuError('DSU_ERR_UNDECLARED_ROOT',
        `${to} neither marks nor drops ${unclaimed.length === 1 ? 'the root' : 'the roots'} ${unclaimed.join(', ')} of ${from}; drop ${unclaimed.length === 1 ? 'it' : 'them'} in the transformer (dropRoot) or mark ${unclaimed.length === 1 ? 'it' : 'them'} with state() during init`)) })
      return
    }
    this.stage = 'ready'
    void send({ dsu: 'ready' })
  }

  /** The old version's (or the supervisor's) state stream: decode, transform, restore. */
  receive(message: Extract<SupervisorMessage, { dsu: 'receive-state' }>): void {
    const loaded = this.loaded
    if (!loaded) {
      // Not booted (the boot failed, and said so): nothing can decode the stream.
      return void reply(message, { dsu: 'restore-failed', error: toWire(new DsuError('DSU_ERR_INTERNAL', 'receive-state before the new version booted')) })
    }
    const server = net.createServer()
    // Only the old version (or the supervisor) knows the token: a forged
    // stream from another local process is dropped, never restored.
    loaded.acceptAuthenticated(server, message.token, (socket) => {
      this.stream = socket
      this.onStream?.(socket)
      // The transformer's per-entry rules run on pre-copied entries as they
      // arrive (changed ones again at the pause), not on the whole state in it.
      const rules = loaded.entryRulesOf(loaded.transformer)
      const pair = { from: message.from, to: message.to }
      const entryRules = rules && new Map([...rules].map(([root, rule]) => [root, (value: unknown, key: unknown, index: number, kind: 'map' | 'set' | 'array' | 'object') => rule(value, key, index, kind, pair)]))
      const received = loaded.receiveState(socket, { resolve: loaded.resolve, ...(entryRules ? { entryRules } : {}) })
      socket.resume()
      received.then(async ({ roots: old, stats, ruled }) => {
        const started = performance.now()
        void reply(message, { dsu: 'decoded' }) // the supervisor's transform deadline starts
        let next: Map<string, unknown>
        try {
          next = await applyTransformer(loaded.transformer, old, pair, ruled)
        } catch (error) {
          this.stage = 'failed'
          await reply(message, { dsu: 'restore-failed', error: toWire(error) })
          return this.rejectRoots(error)
        }
        const transformMs = performance.now() - started
        this.transferred = [...next.keys()]
        this.versions = pair
        this.stage = 'restored'
        // Sent before the roots resolve: the program's own init (the code after
        // its state() calls, the `init` phase) starts after this message.
        const told = reply(message, { dsu: 'restored', ...stats, transformMs })
        this.resolveRoots(next)
        await told
        // Let the code after the program's awaits run (its listen() calls) first.
        setImmediate(() => this.checkReady())
      }, async (error) => {
        this.stage = 'failed'
        await reply(message, { dsu: 'restore-failed', error: toWire(error, 'DSU_ERR_STATE_STREAM') })
        this.rejectRoots(error)
      })
    })
    listenInternal(server, message.path, () => {
      fs.chmodSync(message.path, 0o600)
      void reply(message, { dsu: 'receiving' })
    })
  }

  /**
   * Pre-copy: say when every byte the old version wrote so far is decoded, so
   * the pause does not start with a backlog. ('data' listeners run in order:
   * the decoder's first.)
   */
  awaitBytes(message: Extract<SupervisorMessage, { dsu: 'await-bytes' }>): void {
    const check = (): boolean => {
      if (!this.stream || this.stream.bytesRead < message.bytes) return false
      void reply(message, { dsu: 'caught-up', bytes: this.stream.bytesRead })
      return true
    }
    if (check()) return
    // The stream may not be connected yet: start watching when it is.
    const watch = (socket: net.Socket): void => {
      const onData = (): void => { if (check()) socket.off('data', onData) }
      socket.on('data', onData)
    }
    if (this.stream) watch(this.stream)
    else this.onStream = watch
  }
}

export function startSuccessor(): (key: string) => void {
  const successor = new Successor()
  restoreFrom(successor.roots, () => successor.boot())
  whenReady(() => {
    void successor.boot()
    successor.checkReady()
  })

  on('receive-state', (message) => successor.receive(message))
  on('await-bytes', (message) => successor.awaitBytes(message))
  on('listen-handle', (message, handle) => inheritHandle(message.key, handle))
  on('activate', (message) => {
    const keys = activate()
    successor.release?.()
    void reply(message, { dsu: 'active', keys })
  })
  // Sent ahead during the pause: held unread until commit says how to adopt them.
  const adopt = (key: string, handle: unknown, ws?: WebSocketHandOver, stream?: LongLivedHandOver): void => {
    const target = servers.get(key)
    if (target) target.adopt(handle, ws, stream)
    else (handle as { close?: () => void })?.close?.()
  }
  const held = new HeldConnections((handle, c) => adopt(c.key, handle, c.ws, c.stream))
  on('connection', (message, handle) => {
    if (message.ahead) return held.hold(message.ahead, handle)
    adopt(message.key, handle, message.ws, message.stream)
  })
  on('adopt-ahead', (message) => {
    held.adopt(message.tag, message.connections)
  })

  return (key: string) => {
    successor.claimed.add(key)
    void successor.boot()
    successor.checkReady()
  }
}

async function applyTransformer(
  transformer: Transformer | null,
  old: Map<string, unknown>,
  versions: { from: string; to: string },
  entriesDone: ReadonlySet<string>,
): Promise<Map<string, unknown>> {
  if (!transformer) return old
  let result: unknown
  try {
    // A DSL transformer skips the per-entry rules of the roots that already had them.
    result = await (transformer as (roots: Record<string, unknown>, v: typeof versions, o: { entriesDone: ReadonlySet<string> }) => unknown)(Object.fromEntries(old), versions, { entriesDone })
  } catch (cause) {
    // The DSL's errors already name the version pair, the rule and the path.
    if (isDsuError(cause)) throw cause
    const message = cause instanceof Error ? cause.message : String(cause)
    throw new DsuError('DSU_ERR_TRANSFORM_FAILED', `transformer ${versions.from} → ${versions.to} threw: ${message}`, { cause })
  }
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw new DsuError('DSU_ERR_TRANSFORM_FAILED', `transformer ${versions.from} → ${versions.to} returned ${result === null ? 'null' : typeof result}; it must return an object of root name → value`)
  }
  return new Map(Object.entries(result))
}

/**
 * True when the boot has nothing for the transformer DSL to do: no transformer
 * was chosen (the supervisor names a file or a chain, conventional ones
 * included) and the old roots hold no registered class or type to check. A
 * manifest that does not read as such goes the full way, which reports it.
 */
export function nothingToTransform(env: Record<string, string | undefined>): boolean {
  if (env[ENV_TRANSFORMER] || env[ENV_TRANSFORMERS]) return false
  const manifest = env[ENV_MANIFEST]
  if (!manifest) return true
  try {
    const roots: unknown = JSON.parse(manifest)
    return Array.isArray(roots) && roots.every((root: unknown) => {
      if (typeof root !== 'object' || root === null) return false
      const { classes, types } = root as { classes?: unknown; types?: unknown }
      return classes === undefined && types === undefined
    })
  } catch {
    return false
  }
}
