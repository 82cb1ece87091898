// The program's own classes and library types that may travel in marked state.
//
// A registered class instance travels as its class name plus its own
// enumerable fields and arrives as an instance of the class the NEW version
// registered under that name (its prototype, no constructor call), so new
// methods apply at once. A registered type travels as whatever its codec's
// serialize() returns and is rebuilt by the new version's deserialize().
//
// Both sides are per process: the old version's registrations say how to
// send, the new version's how to receive. Registration must happen before the
// first state() or listen() call (at module top level), because the new
// version checks at that moment, before the old version pauses, that it
// knows every name the old one holds.

import { DsuError } from '../errors.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

/** A codec for a library object, modelled on superjson's registerCustom. */
export interface TypeCodec<T = Any, Data = Any> {
  /** Asked only about objects that are not plain data (plain objects, arrays, Map, Set, Date… never reach it). */
  isApplicable: (value: unknown) => boolean
  /** What travels instead of the value: plain data (Map, Set, Date, arrays, objects, primitives). */
  serialize: (value: T) => Data
  /** Rebuilds the value in the new version from what serialize returned. */
  deserialize: (data: Data) => T
}

export interface ClassOptions {
  /** The name the class travels under; default its `name`. Keep it stable across versions. */
  name?: string
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type AnyClass = Function & { prototype: object }

const classByName = new Map<string, AnyClass>()
const nameByProto = new Map<object, string>()
// The stream tag of each registered prototype, made once: the walk looks it up per instance.
const tagByProto = new Map<object, string>()
const typeByName = new Map<string, TypeCodec>()
let typeList: Array<[string, TypeCodec]> = []

function refuse(message: string): never {
  throw new DsuError('DSU_ERR_REGISTRATION', message)
}

/**
 * Lets instances of `cls` travel in marked state across upgrades and rollbacks.
 *
 *   class Account { deposit(n) { this.balance += n } }
 *   registerClass(Account)                       // travels as "Account"
 *   registerClass(Account, { name: 'Account' })  // same, with the name pinned
 */
export function registerClass(cls: AnyClass, options: ClassOptions = {}): void {
  if (typeof cls !== 'function' || typeof cls.prototype !== 'object' || cls.prototype === null) {
    refuse(`registerClass(cls): cls must be a class, got ${typeof cls}`)
  }
  const name = options.name ?? cls.name
  if (typeof name !== 'string' || name === '') refuse('registerClass(cls): an anonymous class needs a name: registerClass(cls, { name: "…" })')
  const known = classByName.get(name)
  if (known !== undefined && known !== cls) refuse(`registerClass(${name}): another class is already registered under the name ${name}; give one of them { name: "…" }`)
  const other = nameByProto.get(cls.prototype)
  if (other !== undefined && other !== name) refuse(`registerClass(${name}): this class is already registered as ${other}`)
  if (typeByName.has(name)) refuse(`registerClass(${name}): a type is already registered under the name ${name}`)
  classByName.set(name, cls)
  nameByProto.set(cls.prototype, name)
  tagByProto.set(cls.prototype, classTag(name))
}

/**
 * Lets library objects travel through a codec declared once (like superjson's registerCustom).
 *
 *   registerType('lru', {
 *     isApplicable: (v) => v instanceof LRUCache,
 *     serialize: (c) => c.dump(),
 *     deserialize: (d) => { const c = new LRUCache({ max: 1000 }); c.load(d); return c },
 *   })
 */
export function registerType<T = Any, Data = Any>(name: string, codec: TypeCodec<T, Data>): void {
  if (typeof name !== 'string' || name === '') refuse('registerType(name, codec): name must be a non-empty string')
  if (typeof codec !== 'object' || codec === null) refuse(`registerType("${name}", codec): codec must be an object { isApplicable, serialize, deserialize }`)
  for (const key of ['isApplicable', 'serialize', 'deserialize'] as const) {
    if (typeof codec[key] !== 'function') refuse(`registerType("${name}", codec): codec.${key} must be a function`)
  }
  if (classByName.has(name)) refuse(`registerType("${name}"): a class is already registered under the name ${name}`)
  const known = typeByName.get(name)
  if (known !== undefined && known !== codec) refuse(`registerType("${name}"): another codec is already registered under this name`)
  typeByName.set(name, codec as TypeCodec)
  typeList = [...typeByName]
}

/** True when anything is registered: only then do manifests look for class names. */
export function hasRegistrations(): boolean {
  return classByName.size > 0 || typeByName.size > 0
}

/** The travelling name of an instance whose prototype is exactly a registered class's. */
export function classNameOf(proto: object): string | undefined {
  return nameByProto.get(proto)
}

/** classTag(classNameOf(proto)), without building the string per instance. */
export function classTagOf(proto: object): string | undefined {
  return tagByProto.get(proto)
}

/** The first registered type whose isApplicable accepts the value. */
export function typeOf(value: object): [string, TypeCodec] | undefined {
  for (const entry of typeList) if (entry[1].isApplicable(value)) return entry
  return undefined
}

/** The names this process registered, for pre-flight and messages. */
export function registered(): { classes: string[]; types: string[] } {
  return { classes: [...classByName.keys()], types: [...typeByName.keys()] }
}

/** How a received tag becomes a value again; undefined when this version lacks it. */
export type Revival = { proto: object | null } | { codec: TypeCodec }
export type Resolver = (tag: string) => Revival | undefined

// Tags in the stream: "c:<class name>", "t:<type name>", and NULL_PROTO_TAG
// for a plain object with a null prototype (Object.create(null)), which v8
// would deliver with Object.prototype. Every version knows the last one.
export const classTag = (name: string): string => `c:${name}`
export const typeTag = (name: string): string => `t:${name}`
export const NULL_PROTO_TAG = 'n:null'
const NULL_PROTO: Revival = { proto: null }

/** The resolver of this process's registry; `renames` maps an old class name to the new one. */
export function registryResolver(renames: ReadonlyMap<string, string> = new Map()): Resolver {
  return (tag) => {
    if (tag === NULL_PROTO_TAG) return NULL_PROTO
    const name = tag.slice(2)
    if (tag.startsWith('c:')) {
      const cls = classByName.get(renames.get(name) ?? name)
      return cls === undefined ? undefined : { proto: cls.prototype }
    }
    const codec = typeByName.get(name)
    return codec === undefined ? undefined : { codec }
  }
}

/** For tools that only look at state (dsu check): classes arrive as plain objects, types as their data. */
export const plainResolver: Resolver = (tag) => (tag === NULL_PROTO_TAG ? NULL_PROTO : tag.startsWith('c:') ? { proto: Object.prototype } : { codec: { isApplicable: () => false, serialize: (v) => v, deserialize: (d) => d } })

/** Test hook: forget every registration. */
export function clearRegistry(): void {
  classByName.clear()
  nameByProto.clear()
  tagByProto.clear()
  typeByName.clear()
  typeList = []
}
