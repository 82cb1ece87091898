// The catalogue and its documentation stay in step; errors survive the wire.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { catalogue, DsuError, fromWire, isDsuError, toWire } from './errors.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

t.test('README documents every code with its hint, and nothing else', async (t) => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const section = readme.split('<!-- errors:start -->')[1]!.split('<!-- errors:end -->')[0]!
  const documented = new Map<string, string>()
  for (const m of section.matchAll(/^\| `(DSU_ERR_[A-Z_]+)` \| (.*) \|$/gm)) documented.set(m[1]!, m[2]!)
  t.same([...documented.keys()].sort(), Object.keys(catalogue).sort())
  for (const [code, hint] of Object.entries(catalogue)) t.equal(documented.get(code), hint, code)
})

t.test('every code the sources raise is in the catalogue', async (t) => {
  const used = new Set<string>()
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/'(DSU_ERR_[A-Z_]+)'/g)) used.add(m[1]!)
    }
  }
  for (const d of ['cli', 'runtime', 'transformers']) walk(path.join(root, d))
  for (const code of used) t.ok(code in catalogue, code)
})

t.test('errors are recognised by code and cross the wire', async (t) => {
  const cause = new Error('low level')
  const e = new DsuError('DSU_ERR_TRANSFORM_FAILED', 'transformer 1 → 2 threw: x', { cause, phase: 'transform' })
  t.equal(e.cause, cause)
  t.equal(e.hint, catalogue.DSU_ERR_TRANSFORM_FAILED)
  t.ok(isDsuError(e, 'DSU_ERR_TRANSFORM_FAILED'))
  t.notOk(isDsuError(e, 'DSU_ERR_USAGE'))
  t.ok(isDsuError({ code: 'DSU_ERR_USAGE', message: 'plain object from another copy' }))
  t.notOk(isDsuError(new Error('x')))
  const wire = toWire(e)
  t.same(wire, { code: 'DSU_ERR_TRANSFORM_FAILED', message: 'transformer 1 → 2 threw: x', phase: 'transform' })
  const back = fromWire(JSON.parse(JSON.stringify(wire)))
  t.equal(back.code, 'DSU_ERR_TRANSFORM_FAILED')
  t.equal(back.phase, 'transform')
  t.same(toWire(new Error('boom')), { code: 'DSU_ERR_INTERNAL', message: 'boom' })
  t.equal(fromWire({ code: 'DSU_ERR_NOPE' as never, message: 'm' }).code, 'DSU_ERR_INTERNAL', 'unknown codes become internal')
})
