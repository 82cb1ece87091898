// When a new version's boot may skip loading the transformer DSL: only when
// no transformer was chosen and the old roots hold nothing the DSL's
// pre-flight checks (registered classes or types); anything unclear loads it.
import t from 'tap'
import { nothingToTransform } from './successor.js'
import { ENV_MANIFEST, ENV_TRANSFORMER, ENV_TRANSFORMERS } from '../protocol.js'

t.test('nothing to transform: no transformer, plain roots or no manifest', async (t) => {
  t.ok(nothingToTransform({}))
  t.ok(nothingToTransform({ [ENV_MANIFEST]: '[]' }))
  t.ok(nothingToTransform({ [ENV_MANIFEST]: JSON.stringify([{ name: 'counters', kind: 'map', count: 3 }, { name: 'cfg', kind: 'object', count: 1, precopy: true }]) }))
})

t.test('the DSL loads for a transformer, a registered class or type, or a manifest it cannot read', async (t) => {
  t.notOk(nothingToTransform({ [ENV_TRANSFORMER]: '/app/v2/dsu.transform.js' }))
  t.notOk(nothingToTransform({ [ENV_TRANSFORMERS]: '/app/dsu.transformers' }))
  t.notOk(nothingToTransform({ [ENV_MANIFEST]: JSON.stringify([{ name: 'accounts', kind: 'map', count: 1, classes: ['Account'] }]) }))
  t.notOk(nothingToTransform({ [ENV_MANIFEST]: JSON.stringify([{ name: 'cache', kind: 'object', count: 1, types: ['lru'] }]) }))
  for (const bad of ['{', 'null', '{"name":"x"}', '[1]', '[null]']) t.notOk(nothingToTransform({ [ENV_MANIFEST]: bad }), bad)
})
