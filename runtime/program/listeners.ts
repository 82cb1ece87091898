// listen() interception. Each listen call gets a key from its arguments
// ("tcp:127.0.0.1:0#1"), the same in every version of the program. The first
// version listens for real and hands a copy of each listening handle to the
// supervisor; a successor's listen() on the same key is deferred until commit
// and then bound to the inherited handle, so the kernel socket never closes
// and no connection is refused (guarantee 3).
import net from 'node:net'
import { role, send } from './channel.js'
import { ServerConnections } from './connections.js'
import { addParticipant } from './quiescence.js'
import { activateDatagrams, interceptBind } from './datagrams.js'

type Listen = (this: net.Server, ...args: unknown[]) => net.Server
const realListen = net.Server.prototype.listen as unknown as Listen

export const servers = new Map<string, ServerConnections>()
const keyCounts = new Map<string, number>()
interface Deferred { server: net.Server; key: string; args: unknown[] }
const deferred: Deferred[] = []
const inherited = new Map<string, unknown>()
let active = role !== 'successor'
let claimHook: ((key: string) => void) | null = null

/** True once this process serves: a primary from the start, a successor from commit. */
export function isActive(): boolean {
  return active
}

/** listen() for the runtime's own sockets (the state stream), never intercepted. */
export function listenInternal(server: net.Server, ...args: unknown[]): net.Server {
  return realListen.apply(server, args)
}

/** The key of a listen() call, or null when it listens on a handle or fd. */
export function listenKey(args: unknown[]): string | null {
  const [first, second] = args
  let port: unknown
  let host: unknown
  let path: unknown
  if (typeof first === 'object' && first !== null) {
    const o = first as Record<string, unknown>
    if ('_handle' in o || 'fd' in o || !('port' in o || 'path' in o || 'host' in o)) return null
    ;({ port, host, path } = o)
  } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
    path = first
  } else {
    port = first
    if (typeof second === 'string') host = second
  }
  if (typeof path === 'string') return `pipe:${path}`
  const p = typeof port === 'function' || port === undefined || port === null ? 0 : Number(port)
  return `tcp:${typeof host === 'string' ? host : '*'}:${p}`
}

function nextKey(base: string): string {
  const n = (keyCounts.get(base) ?? 0) + 1
  keyCounts.set(base, n)
  return `${base}#${n}`
}

function track(server: net.Server, key: string): ServerConnections {
  const connections = new ServerConnections(server, key)
  servers.set(key, connections)
  addParticipant(connections)
  return connections
}

function listenNow(server: net.Server, key: string, args: unknown[]): net.Server {
  track(server, key)
  server.once('listening', () => {
    const handle = (server as unknown as { _handle: unknown })._handle
    const address = server.address()
    const text = typeof address === 'string' ? address : address ? `${address.address}:${address.port}` : ''
    void send({ dsu: 'listener', key, address: text }, handle)
  })
  return realListen.apply(server, args)
}

function interceptedListen(this: net.Server, ...args: unknown[]): net.Server {
  const base = listenKey(args)
  if (base === null) return realListen.apply(this, args)
  const key = nextKey(base)
  if (active) return listenNow(this, key, args)
  deferred.push({ server: this, key, args })
  claimHook?.(key)
  return this
}

/** Installs the interception; a no-op without a supervisor. */
export function interceptListen(onClaim: (key: string) => void): void {
  if (role === null) return
  claimHook = onClaim
  net.Server.prototype.listen = interceptedListen as unknown as typeof net.Server.prototype.listen
  // UDP sockets' bind() is handed over the same way (datagrams.ts).
  interceptBind(() => active, onClaim)
}

export function inheritHandle(key: string, handle: unknown): void {
  inherited.set(key, handle)
}

/** Commit: binds every deferred listen(), inherited handles first. */
export function activate(): string[] {
  active = true
  const bound: string[] = activateDatagrams(inherited)
  for (const { server, key, args } of deferred.splice(0)) {
    const handle = inherited.get(key)
    if (handle === undefined) {
      listenNow(server, key, args)
      continue
    }
    inherited.delete(key)
    track(server, key)
    bound.push(key)
    const callback = args.find((a) => typeof a === 'function')
    realListen.apply(server, callback ? [handle, callback] : [handle])
  }
  // Handles the successor did not claim stay with the supervisor, which closes them.
  for (const handle of inherited.values()) (handle as { close?: () => void }).close?.()
  inherited.clear()
  return bound
}
