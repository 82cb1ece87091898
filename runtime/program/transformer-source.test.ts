// loadChoice: each kind of transformer choice loads what it names; a named
// export that is missing is a named error (file#name used to import
// "file%23name" and fail for any name but reverse).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadChoice } from './transformer-source.js'

t.test('file, file#export, reverse; a missing export is DSU_ERR_TRANSFORMER_INVALID', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-choice-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 't.mjs')
  fs.writeFileSync(file, `export default (r) => ({ ...r, via: 'default' })
export const up = (r) => ({ ...r, via: 'up' })
export const reverse = (r) => ({ ...r, via: 'reverse' })
`)
  const versions = { from: '1', to: '2' }
  const run = async (choice: Parameters<typeof loadChoice>[0]): Promise<unknown> => (await loadChoice(choice, versions))!({ a: 1 }, versions)
  t.match(await run({ kind: 'file', path: file }), { a: 1, via: 'default' })
  t.same(await run({ kind: 'file', path: file, export: 'up' }), { a: 1, via: 'up' })
  t.same(await run({ kind: 'reverse', path: file }), { a: 1, via: 'reverse' })
  t.equal(await loadChoice(null, versions), null)
  await t.rejects(loadChoice({ kind: 'file', path: file, export: 'down' }, versions), { code: 'DSU_ERR_TRANSFORMER_INVALID' })
})
