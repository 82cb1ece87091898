// State files (`dsu state export`, `dsu run --restore file.json`) in one
// process: a snapshot decoded with stand-ins, written as superjson, read back
// and encoded again arrives in a program with its own classes and codecs;
// every malformed file is DSU_ERR_STATE_FILE naming what is wrong.
import t from 'tap'
import { LRUCache } from 'lru-cache'
import { encodeRoots, StateDecoder } from './state-codec.js'
import { frameHead, FrameReader } from './framing.js'
import { clearRegistry, registerClass, registerType, type Resolver } from './registry.js'
import { decodeSnapshot, encodeStateFile, exportState, parseStateFile, STATE_FILE_FORMAT } from './state-file.js'
import { isDsuError } from '../errors.js'

class Account {
  constructor(public id: string, public balance: bigint, public opened = new Date(0)) {}
  deposit(n: number): void {
    this.balance += BigInt(n)
  }
}
const lruCodec = {
  isApplicable: (v: unknown) => v instanceof LRUCache,
  serialize: (c: LRUCache<string, string>) => c.dump(),
  deserialize: (d: ReturnType<LRUCache<string, string>['dump']>) => {
    const c = new LRUCache<string, string>({ max: 10 })
    c.load(d)
    return c
  },
}

function stream(roots: Map<string, unknown>): Buffer {
  return Buffer.concat([...encodeRoots(roots)].flatMap((f) => [frameHead(f), f]))
}

// The receiving program: its own Account and codec, by name.
const program: Resolver = (tag) => (tag === 'c:Account' ? { proto: Account.prototype } : tag === 't:lru' ? { codec: lruCodec } : undefined)

function decode(bytes: Buffer, resolve: Resolver): Map<string, unknown> {
  const decoder = new StateDecoder({ resolve })
  new FrameReader().push(bytes, (f) => decoder.push(f))
  return decoder.finish()
}

t.test('export → file → restore keeps classes, a registered type, Map/Set/Date/BigInt/typed arrays and shared references', async (t) => {
  clearRegistry()
  registerClass(Account)
  registerType('lru', lruCodec)
  const cache = new LRUCache<string, string>({ max: 10 })
  cache.set('k1', 'one')
  cache.set('k2', 'two')
  cache.get('k1')
  const owner = { name: 'ada' }
  const roots = new Map<string, unknown>([
    ['accounts', new Map([['a0', new Account('a0', 5n)], ['a1', new Account('a1', 12345678901234567890n)]])],
    ['cache', cache],
    ['misc', { tags: new Set(['x', 'y']), bytes: new Uint8Array([1, 2, 3]), floats: new Float64Array([0.5, -1]), first: owner, second: owner, none: undefined, when: new Date(1e12) }],
    ['count', 7],
  ])
  const bytes = stream(roots)
  clearRegistry() // the CLI and supervisor know no classes

  const snapshot = decodeSnapshot(bytes)
  t.same(snapshot.summaries.map((s) => [s.name, s.kind, s.count, s.classes, s.types]), [
    ['accounts', 'map', 2, ['Account'], []],
    ['cache', 'value', 1, [], ['lru']],
    ['misc', 'object', 7, [], []],
    ['count', 'value', 1, [], []],
  ])
  t.ok(snapshot.summaries.every((s) => s.bytes > 0), 'bytes per root')
  const text = exportState(snapshot, { version: '1.0.0', exportedAt: new Date(0).toISOString() })
  const file = JSON.parse(text)
  t.equal(file.format, STATE_FILE_FORMAT)
  t.equal(file.version, '1.0.0')
  t.match(JSON.stringify(file.roots.meta), /\["class","Account"\]/, 'class names in superjson meta')
  t.match(JSON.stringify(file.roots.meta), /\["custom","lru"\]/, 'type names in superjson meta')

  const parsed = parseStateFile(text, 'snap.json')
  t.equal(parsed.version, '1.0.0')
  const { stream: again, stats } = encodeStateFile(parsed, 'snap.json')
  t.equal(stats.roots, 4)
  clearRegistry()
  const back = decode(again, program)
  const accounts = back.get('accounts') as Map<string, Account>
  t.ok(accounts.get('a0') instanceof Account, 'an instance of the program\'s class')
  accounts.get('a0')!.deposit(1)
  t.equal(accounts.get('a0')!.balance, 6n)
  t.equal(accounts.get('a1')!.balance, 12345678901234567890n)
  t.same(accounts.get('a1')!.opened, new Date(0))
  const c = back.get('cache') as LRUCache<string, string>
  t.ok(c instanceof LRUCache, 'the program\'s codec rebuilt the cache')
  t.same([...c.keys()], ['k1', 'k2'], 'recency order kept')
  const misc = back.get('misc') as Record<string, unknown>
  t.same(misc.tags, new Set(['x', 'y']))
  t.ok(misc.bytes instanceof Uint8Array && misc.floats instanceof Float64Array)
  t.same([...(misc.bytes as Uint8Array)], [1, 2, 3])
  t.same([...(misc.floats as Float64Array)], [0.5, -1])
  t.equal(misc.first, misc.second, 'a shared reference stays shared')
  t.ok('none' in misc && misc.none === undefined, 'undefined kept')
  t.same(misc.when, new Date(1e12))
  t.equal(back.get('count'), 7)
})

t.test('export --root picks roots', async (t) => {
  clearRegistry()
  const snapshot = decodeSnapshot(stream(new Map<string, unknown>([['a', 1], ['b', new Map([[1, 2]])]])))
  const file = JSON.parse(exportState(snapshot, { version: '1', exportedAt: 'now' }, ['b']))
  t.same(Object.keys(file.roots.json), ['b'])
})

t.test('malformed files: DSU_ERR_STATE_FILE naming what is wrong', async (t) => {
  clearRegistry()
  const good = (roots: unknown) => JSON.stringify({ format: STATE_FILE_FORMAT, version: '1.0.0', roots })
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{"format":', /f\.json: not JSON/],
    ['an array', '[]', /holds an array, not a dsu state file/],
    ['wrong format', JSON.stringify({ format: 'other', version: '1', roots: { json: {} } }), /"format" is "other", expected "dsu-state\/1"/],
    ['no version', JSON.stringify({ format: STATE_FILE_FORMAT, roots: { json: {} } }), /"version" must be/],
    ['roots missing', JSON.stringify({ format: STATE_FILE_FORMAT, version: '1' }), /"roots" must be superjson's \{ json, meta \}, got undefined/],
    ['json an array', good({ json: [] }), /"roots.json" must be an object of roots by name, got an array/],
    ['meta a string', good({ json: {}, meta: 'x' }), /"roots.meta" must be an object/],
    ['unknown annotation', good({ json: { a: 1 }, meta: { values: { a: ['weird'] } } }), /not valid superjson: Unknown transformation: weird/],
    ['__proto__ path', good({ json: { a: 1 }, meta: { values: { '__proto__.x': ['Date'] } } }), /not valid superjson: __proto__ is not allowed/],
    ['unknown symbol', good({ json: { a: 's' }, meta: { values: { a: [['symbol', 'nope']] } } }), /not valid superjson/],
  ]
  for (const [what, text, message] of cases) {
    t.test(what, async (t) => {
      try {
        parseStateFile(text, 'f.json')
        t.fail('accepted')
      } catch (error) {
        t.ok(isDsuError(error, 'DSU_ERR_STATE_FILE'), String(error))
        t.match((error as Error).message, message)
      }
    })
  }
  t.test('a value marked state cannot hold (a URL)', async (t) => {
    const parsed = parseStateFile(good({ json: { site: 'https://example.org/' }, meta: { values: { site: ['URL'] } } }), 'f.json')
    t.throws(() => encodeStateFile(parsed, 'f.json'), { code: 'DSU_ERR_STATE_FILE', message: /f\.json: holds what marked state cannot: site: class instance URL/ })
  })
  t.test('nothing polluted', async (t) => {
    t.equal(({} as Record<string, unknown>).x, undefined)
  })
})
