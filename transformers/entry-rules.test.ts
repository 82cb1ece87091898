// Per-entry rules during pre-copy: the leading `root.*` rules of a DSL
// transformer run on entries as they arrive in the new version (changed
// entries again at the pause), and the transformer then skips them for the
// roots that had them. A rule that is not idempotent (doubling a field) shows
// that every entry went through it exactly once.
import t from 'tap'
import { PrecopySender } from '../runtime/transfer/precopy.js'
import { receiveState } from '../runtime/transfer/state-stream.js'
import { addField, convert, renameRoot, transformer } from './index.js'
import { entryRulesOf } from './compile.js'
import { socketPair } from '../runtime/transfer/socket-pair.test-support.js'

const pair = () => socketPair('dsu-entry-rules-')

const versions = { from: '1.0.0', to: '2.0.0' }
const bound = (tr: unknown) => new Map([...entryRulesOf(tr)!].map(([root, rule]) => [root, (v: unknown, k: unknown, i: number, kind: 'map' | 'set' | 'array' | 'object') => rule(v, k, i, kind, versions)]))

t.test('entry rules run once per entry, on arrival and on changed entries, and the transformer skips them', async (t) => {
  const tr = transformer({ from: '1.0.0', to: '2.0.0', rules: [convert('r.*.v', (v: number) => v * 2, { expect: 'number' }), addField('r.*', 'plan', 'free'), renameRoot('other', 'renamed')] })
  t.same([...entryRulesOf(tr)!.keys()], ['r'], 'the leading r.* rules are per-entry rules')
  const { client, server, close } = await pair()
  t.teardown(close)
  const r = new Map<string, { v: number }>()
  for (let i = 0; i < 5000; i++) r.set(`k${i}`, { v: i })
  const kept = r.get('k10')!
  const received = receiveState(server, { entryRules: bound(tr) })
  const sender = new PrecopySender(client, new Map([['r', r]]))
  await sender.run()
  kept.v = -10 // through a reference kept from before
  r.set('new', { v: 7 })
  r.delete('k11')
  await sender.finish(new Map([['other', { x: 1 }]]))
  const { roots, ruled } = await received
  t.same([...ruled], ['r'])
  const run = tr as unknown as (roots: object, v: typeof versions, o: { entriesDone: ReadonlySet<string> }) => Promise<Record<string, unknown>>
  const out = await run(Object.fromEntries(roots), versions, { entriesDone: ruled })
  const got = out.r as Map<string, { v: number; plan: string }>
  t.same(got.get('k10'), { v: -20, plan: 'free' }, 'a changed entry went through the rules once, at the pause')
  t.same(got.get('k5'), { v: 10, plan: 'free' }, 'an unchanged entry went through them once, on arrival')
  t.same(got.get('new'), { v: 14, plan: 'free' })
  t.notOk(got.has('k11'))
  t.equal(got.size, 5000)
  t.same(out.renamed, { x: 1 }, 'the other rules ran as before')
})

t.test('a rule that fails on an arriving entry names the entry', async (t) => {
  const tr = transformer({ from: '1.0.0', to: '2.0.0', rules: [convert('r.*.v', (v: number) => v * 2, { expect: 'number' })] })
  const { client, server, close } = await pair()
  t.teardown(close)
  const r = new Map<string, { v: unknown }>()
  for (let i = 0; i < 2000; i++) r.set(`k${i}`, { v: i })
  r.set('k3', { v: 'three' })
  const received = receiveState(server, { entryRules: bound(tr) }).catch((error) => error)
  const sender = new PrecopySender(client, new Map([['r', r]]))
  await sender.run().catch(() => {})
  sender.abort()
  t.match(await received, { code: 'DSU_ERR_TRANSFORM_RULE', message: /^1\.0\.0 → 2\.0\.0, rule convert\(v\) at r\.get\("k3"\)\.v: expected number, got string/ })
})

t.test('without entriesDone the transformer runs every rule as before', async (t) => {
  const tr = transformer({ from: '1.0.0', to: '2.0.0', rules: [convert('r.*.v', (v: number) => v * 2)] })
  const out = await tr({ r: new Map([['a', { v: 1 }]]) }, versions)
  t.same((out.r as Map<string, unknown>).get('a'), { v: 2 })
  t.equal(entryRulesOf(transformer({ from: '1.0.0', to: '2.0.0', rules: [renameRoot('r', 's'), convert('s.*.v', (v: number) => v)] })), undefined, 'rules after a root rule are not per-entry')
})
