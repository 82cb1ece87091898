// Validation of transformed state with real Standard Schema libraries.
import t from 'tap'
import * as v from 'valibot'
import { z } from 'zod'
import { isDsuError } from '../runtime/errors.js'
import { convert, mapOf, setOf, transformer, validateRoots, type StandardSchemaV1 } from './index.js'

async function validationError(roots: Record<string, unknown>, schemas: Record<string, StandardSchemaV1>): Promise<string> {
  try {
    await validateRoots(roots, schemas)
  } catch (error) {
    if (!isDsuError(error, 'DSU_ERR_VALIDATION')) throw error
    return error.message
  }
  throw new Error('validation passed')
}

const customers = () => new Map([['c1', { name: 'Ann', cents: 1200 }], ['c7', { name: 'Bob', cents: 12.5 }]])

t.test('zod: a Map root through mapOf, path and value in the message', async (t) => {
  const schema = mapOf(z.object({ name: z.string(), cents: z.int() }))
  t.equal(
    await validationError({ customers: customers() }, { customers: schema }),
    'customers.get("c7").cents: Invalid input: expected int, received number, got 12.5',
  )
  await validateRoots({ customers: new Map([['c1', { name: 'Ann', cents: 1 }]]) }, { customers: schema })
})

t.test('valibot: a Map root through mapOf', async (t) => {
  const schema = mapOf(v.object({ name: v.string(), cents: v.pipe(v.number(), v.integer()) }))
  t.equal(
    await validationError({ customers: customers() }, { customers: schema }),
    'customers.get("c7").cents: Invalid integer: Received 12.5, got 12.5',
  )
})

t.test('plain object and array roots with the libraries\' own schemas', async (t) => {
  t.equal(
    await validationError(
      { config: { limits: { 'max users': '10' } }, list: [1, 2, 'x'] },
      { config: z.object({ limits: z.record(z.string(), z.number()) }), list: v.array(v.number()) },
    ),
    'config.limits["max users"]: Invalid input: expected number, received string, got "10"; list[2]: Invalid type: Expected number but received "x", got "x"',
  )
})

t.test('setOf, and a root that is not a Map', async (t) => {
  const message = await validationError(
    { tags: new Set(['a', 3]), customers: [] },
    { tags: setOf(z.string()), customers: mapOf(z.object({})) },
  )
  t.equal(message, 'tags.values()[1]: Invalid input: expected string, received number, got 3; customers: expected Map, got array(0)')
})

t.test('async validators are awaited', async (t) => {
  const schema = mapOf(z.object({ cents: z.int() }).refine(async (c) => c.cents >= 0, { message: 'must not be negative' }))
  t.equal(
    await validationError({ m: new Map([['a', { cents: 1 }], ['b', { cents: -1 }]]) }, { m: schema }),
    'm.get("b"): must not be negative, got object',
  )
})

t.test('roots without a schema, and schemas for roots not returned, are skipped', async (t) => {
  await validateRoots({ other: 'anything' }, { absent: z.number() })
  t.pass()
})

t.test('many issues: the first five are listed, the rest counted', async (t) => {
  const m = new Map(Array.from({ length: 8 }, (_, i) => [`k${i}`, { n: 'x' }]))
  const message = await validationError({ m }, { m: mapOf(z.object({ n: z.number() })) })
  t.match(message, /^m\.get\("k0"\)\.n: .*; m\.get\("k4"\)\.n: [^;]*\(and 3 more\)$/)
})

t.test('a transformer with schemas validates its output before returning it', async (t) => {
  const fn = transformer({
    from: '1.0.0',
    to: '2.0.0',
    rules: [convert('customers.*.balance', (b: number) => b * 100, { to: 'cents' })],
    schemas: { customers: mapOf(z.object({ name: z.string(), cents: z.int() })) },
  })
  await t.rejects(fn({ customers: new Map([['c7', { name: 'A', balance: 0.125 }]]) }, { from: '1.0.0', to: '2.0.0' }), {
    code: 'DSU_ERR_VALIDATION',
    message: '1.0.0 → 2.0.0: customers.get("c7").cents: Invalid input: expected int, received number, got 12.5',
  })
  const ok = await fn({ customers: new Map([['c1', { name: 'A', balance: 0.5 }]]) }, { from: '1.0.0', to: '2.0.0' })
  t.same(ok.customers, new Map([['c1', { name: 'A', cents: 50 }]]))
})

t.test('a schema that is not a Standard Schema is a transformer mistake', async (t) => {
  await t.rejects(validateRoots({ a: 1 }, { a: {} as StandardSchemaV1 }), { code: 'DSU_ERR_TRANSFORMER_INVALID' })
})
