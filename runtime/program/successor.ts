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
import { ENV_LISTENERS } from '../protocol.js'
import { registryResolver, type Resolver } from '../transfer/registry.js'
import { readiness, whenReady } from './ready.js'

export type Transformer = (roots: Record<string, unknown>, versions: { from: string; to: string }) => unknown


export function startSuccessor(): (key: string) => void {
  const expected: string[] = JSON.parse(process.env[ENV_LISTENERS] ?? '[]')
  const claimed = new Set<string>()
  let release: (() => void) | null = null
  let booting: Promise<void> | null = null
  let transformer: Transformer | null = null
  let resolve: Resolver | undefined
  let restored = false
  let readySent = false
  let resolveRoots!: (roots: Map<string, unknown>) => void
  let rejectRoots!: (error: unknown) => void
  const roots = new Promise<Map<string, unknown>>((resolve, reject) => {
    resolveRoots = resolve
    rejectRoots = reject
  })
  roots.catch(() => {}) // surfaced through state(); the supervisor already knows

  const boot = (): Promise<void> => {
    booting ??= (async () => {
      release = hold()
      try {
        // Loaded on use: a program that is never upgraded does not carry the
        // DSL. The stream reader is loaded now, before the stream can open: a
        // stream that closed while it loaded would go unnoticed.
        const source = await import('./transformer-source.js')
        const { transformerFromEnv, renamesOf } = source
        entryRulesOf = source.entryRulesOf
        receiveState = (await import('../transfer/state-stream.js')).receiveState
        acceptAuthenticated = (await import('../transfer/stream-auth.js')).acceptAuthenticated
        transformer = await transformerFromEnv()
        // renameClass rules act while decoding: instances arrive as the new classes.
        resolve = registryResolver(renamesOf(transformer))
      } catch (error) {
        await send({ dsu: 'restore-failed', error: toWire(error) })
        rejectRoots(error)
        return
      }
      await send({ dsu: 'booted' })
    })()
    return booting
  }

  let receiveState!: typeof import('../transfer/state-stream.js').receiveState
  let entryRulesOf: typeof import('./transformer-source.js').entryRulesOf | undefined
  let acceptAuthenticated!: typeof import('../transfer/stream-auth.js').acceptAuthenticated
  let transferred: string[] = []
  let stream: net.Socket | null = null
  let onStream: ((socket: net.Socket) => void) | null = null
  let versions = { from: '', to: '' }
  const checkReady = (): void => {
    if (!restored || readySent) return
    const { explicit, called } = readiness()
    const ok = explicit ? called : expected.every((k) => claimed.has(k))
    if (!ok) return
    readySent = true
    // A transferred root the new version never marked would be lost silently.
    const marked = markedRoots()
    const unclaimed = transferred.filter((name) => !marked.has(name))
    if (unclaimed.length > 0) {
      void send({ dsu: 'restore-failed', error: toWire(new DsuError('DSU_ERR_UNDECLARED_ROOT',
        `${versions.to} neither marks nor drops ${unclaimed.length === 1 ? 'the root' : 'the roots'} ${unclaimed.join(', ')} of ${versions.from}; drop ${unclaimed.length === 1 ? 'it' : 'them'} in the transformer (dropRoot) or mark ${unclaimed.length === 1 ? 'it' : 'them'} with state() during init`)) })
      return
    }
    void send({ dsu: 'ready' })
  }

  restoreFrom(roots, boot)
  whenReady(() => {
    void boot()
    checkReady()
  })

  on('receive-state', (message) => {
    const server = net.createServer()
    // Only the old version (or the supervisor) knows the token: a forged
    // stream from another local process is dropped, never restored.
    acceptAuthenticated(server, message.token, (socket) => {
      stream = socket
      onStream?.(socket)
      // The transformer's per-entry rules run on pre-copied entries as they
      // arrive (changed ones again at the pause), not on the whole state in it.
      const rules = entryRulesOf?.(transformer)
      const pair = { from: message.from, to: message.to }
      const entryRules = rules && new Map([...rules].map(([root, rule]) => [root, (value: unknown, key: unknown, index: number, kind: 'map' | 'set' | 'array' | 'object') => rule(value, key, index, kind, pair)]))
      const received = receiveState(socket, { ...(resolve ? { resolve } : {}), ...(entryRules ? { entryRules } : {}) })
      socket.resume()
      received.then(async ({ roots: old, stats, ruled }) => {
        const started = performance.now()
        void reply(message, { dsu: 'decoded' }) // the supervisor's transform deadline starts
        let next: Map<string, unknown>
        try {
          next = await applyTransformer(transformer, old, { from: message.from, to: message.to }, ruled)
        } catch (error) {
          await reply(message, { dsu: 'restore-failed', error: toWire(error) })
          return rejectRoots(error)
        }
        const transformMs = performance.now() - started
        transferred = [...next.keys()]
        versions = { from: message.from, to: message.to }
        restored = true
        // Sent before the roots resolve: the program's own init (the code after
        // its state() calls, the `init` phase) starts after this message.
        const told = reply(message, { dsu: 'restored', ...stats, transformMs })
        resolveRoots(next)
        await told
        // Let the code after the program's awaits run (its listen() calls) first.
        setImmediate(checkReady)
      }, async (error) => {
        await reply(message, { dsu: 'restore-failed', error: toWire(error, 'DSU_ERR_STATE_STREAM') })
        rejectRoots(error)
      })
    })
    listenInternal(server, message.path, () => {
      fs.chmodSync(message.path, 0o600)
      void reply(message, { dsu: 'receiving' })
    })
  })
  // Pre-copy: say when every byte the old version wrote so far is decoded, so
  // the pause does not start with a backlog. ('data' listeners run in order:
  // the decoder's first.)
  on('await-bytes', (message) => {
    const check = (): boolean => {
      if (!stream || stream.bytesRead < message.bytes) return false
      void reply(message, { dsu: 'caught-up', bytes: stream.bytesRead })
      return true
    }
    if (check()) return
    // The stream may not be connected yet: start watching when it is.
    const watch = (socket: net.Socket): void => {
      const onData = (): void => { if (check()) socket.off('data', onData) }
      socket.on('data', onData)
    }
    if (stream) watch(stream)
    else onStream = watch
  })
  on('listen-handle', (message, handle) => inheritHandle(message.key, handle))
  on('activate', (message) => {
    const keys = activate()
    release?.()
    void reply(message, { dsu: 'active', keys })
  })
  on('connection', (message, handle) => {
    const target = servers.get(message.key)
    if (target) target.adopt(handle, message.ws, message.stream)
    else (handle as { close?: () => void })?.close?.()
  })

  return (key: string) => {
    claimed.add(key)
    void boot()
    checkReady()
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
