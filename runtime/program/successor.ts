// The new version's side of an upgrade. It boots while the old version still
// serves; at its first state()/listen() call it loads the transformer and tells
// the supervisor it is booted, then receives the old roots over the state
// stream, transforms them, and resolves its state() calls. Its listen() calls
// wait for commit (only old code serves before commit: guarantee 2).
import net from 'node:net'
import { pathToFileURL } from 'node:url'
import { DsuError, toWire } from '../errors.js'
import { on, send, hold } from './channel.js'
import { activate, inheritHandle, listenInternal, servers } from './listeners.js'
import { restoreFrom } from './roots.js'
import { receiveState } from '../transfer/state-stream.js'
import { ENV_LISTENERS, ENV_TRANSFORMER } from '../protocol.js'

export type Transformer = (roots: Record<string, unknown>, versions: { from: string; to: string }) => unknown


let explicitReady = false
let readyCalled = false
let checkReady: () => void = () => {}
let bootOnReady: () => void = () => {}

export function deferReady(): void {
  explicitReady = true
}

export function ready(): void {
  readyCalled = true
  bootOnReady()
  checkReady()
}

export function startSuccessor(): (key: string) => void {
  const expected: string[] = JSON.parse(process.env[ENV_LISTENERS] ?? '[]')
  const claimed = new Set<string>()
  let release: (() => void) | null = null
  let booting: Promise<void> | null = null
  let transformer: Transformer | null = null
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
        transformer = await loadTransformer(process.env[ENV_TRANSFORMER])
      } catch (error) {
        await send({ dsu: 'restore-failed', error: toWire(error) })
        rejectRoots(error)
        return
      }
      await send({ dsu: 'booted' })
    })()
    return booting
  }

  checkReady = () => {
    if (!restored || readySent) return
    const ok = explicitReady ? readyCalled : expected.every((k) => claimed.has(k))
    if (!ok) return
    readySent = true
    void send({ dsu: 'ready' })
  }

  restoreFrom(roots, boot)
  bootOnReady = () => void boot()

  on('receive-state', (message) => {
    const server = net.createServer({ pauseOnConnect: false }, (socket) => {
      server.close()
      receiveState(socket).then(async ({ roots: old, stats }) => {
        const started = performance.now()
        let next: Map<string, unknown>
        try {
          next = await applyTransformer(transformer, old, { from: message.from, to: message.to })
        } catch (error) {
          await send({ dsu: 'restore-failed', error: toWire(error) })
          return rejectRoots(error)
        }
        const transformMs = performance.now() - started
        restored = true
        resolveRoots(next)
        await send({ dsu: 'restored', ...stats, transformMs })
        // Let the code after the program's awaits run (its listen() calls) first.
        setImmediate(checkReady)
      }, async (error) => {
        await send({ dsu: 'restore-failed', error: toWire(error, 'DSU_ERR_STATE_STREAM') })
        rejectRoots(error)
      })
    })
    listenInternal(server, message.path, () => void send({ dsu: 'receiving' }))
  })
  on('listen-handle', (message, handle) => inheritHandle(message.key, handle))
  on('activate', () => {
    const keys = activate()
    release?.()
    void send({ dsu: 'active', keys })
  })
  on('connection', (message, handle) => {
    const target = servers.get(message.key)
    if (target) target.adopt(handle)
    else (handle as { close?: () => void })?.close?.()
  })

  return (key: string) => {
    claimed.add(key)
    void boot()
    checkReady()
  }
}

/** Loads `file` (its default export) or `file#name` (a named export, e.g. `#reverse`). */
async function loadTransformer(spec: string | undefined): Promise<Transformer | null> {
  if (!spec) return null
  const hash = spec.lastIndexOf('#')
  const [file, name] = hash > 0 ? [spec.slice(0, hash), spec.slice(hash + 1)] : [spec, 'default']
  let mod: Record<string, unknown>
  try {
    mod = await import(pathToFileURL(file).href)
  } catch (cause) {
    throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `cannot load transformer ${file}: ${(cause as Error)?.message ?? cause}`, { cause })
  }
  // A reverse is a named export, or a property of the default export (a DSL transformer).
  const fallback = name === 'reverse' ? (mod.default as { reverse?: unknown } | undefined)?.reverse : undefined
  const fn = mod[name] ?? fallback
  if (typeof fn !== 'function') {
    if (name === 'reverse') {
      throw new DsuError('DSU_ERR_NO_REVERSE_TRANSFORMER', `rolling back needs a reverse transformer: ${file} exports no \`reverse\` (and there is no dsu.reverse.js beside the current entry)`)
    }
    const what = name === 'default' ? 'default-exported function' : `function exported as "${name}"`
    throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer ${file} has no ${what} (found ${typeof fn})`)
  }
  return fn as Transformer
}

async function applyTransformer(
  transformer: Transformer | null,
  old: Map<string, unknown>,
  versions: { from: string; to: string },
): Promise<Map<string, unknown>> {
  if (!transformer) return old
  let result: unknown
  try {
    result = await transformer(Object.fromEntries(old), versions)
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    throw new DsuError('DSU_ERR_TRANSFORM_FAILED', `transformer ${versions.from} → ${versions.to} threw: ${message}`, { cause })
  }
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw new DsuError('DSU_ERR_TRANSFORM_FAILED', `transformer ${versions.from} → ${versions.to} returned ${result === null ? 'null' : typeof result}; it must return an object of root name → value`)
  }
  return new Map(Object.entries(result))
}
