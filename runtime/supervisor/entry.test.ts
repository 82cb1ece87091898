import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { resolveEntry, resolveTransformer, versionOf } from './entry.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-entry-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
fs.mkdirSync(path.join(dir, 'app/lib'), { recursive: true })
fs.writeFileSync(path.join(dir, 'app/package.json'), JSON.stringify({ version: '4.2.0', main: 'lib/main.js' }))
fs.writeFileSync(path.join(dir, 'app/lib/main.js'), '')
fs.writeFileSync(path.join(dir, 'app/lib/dsu.transform.mjs'), 'export default (r) => r')
fs.mkdirSync(path.join(dir, 'plain'))
fs.writeFileSync(path.join(dir, 'plain/server.js'), '')

t.test('entries: a file, a directory with main, a directory with server.js', async (t) => {
  t.equal(resolveEntry(path.join(dir, 'app/lib/main.js')), path.join(dir, 'app/lib/main.js'))
  t.equal(resolveEntry(path.join(dir, 'app')), path.join(dir, 'app/lib/main.js'))
  t.equal(resolveEntry('plain', dir), path.join(dir, 'plain/server.js'))
  t.throws(() => resolveEntry(path.join(dir, 'nope.js')), { code: 'DSU_ERR_ENTRY_NOT_FOUND', message: /nope\.js does not exist/ })
  fs.mkdirSync(path.join(dir, 'empty'))
  t.throws(() => resolveEntry(path.join(dir, 'empty')), { code: 'DSU_ERR_ENTRY_NOT_FOUND', message: /has no entry/ })
})

t.test('transformer: given, conventional, missing', async (t) => {
  const entry = path.join(dir, 'app/lib/main.js')
  t.equal(resolveTransformer(null, entry), path.join(dir, 'app/lib/dsu.transform.mjs'))
  t.equal(resolveTransformer(path.join(dir, 'app/lib/dsu.transform.mjs'), path.join(dir, 'plain/server.js')), path.join(dir, 'app/lib/dsu.transform.mjs'))
  t.equal(resolveTransformer(undefined, path.join(dir, 'plain/server.js')), null)
  t.throws(() => resolveTransformer('t.js', entry, dir), { code: 'DSU_ERR_TRANSFORMER_NOT_FOUND' })
})

t.test('version: nearest package.json', async (t) => {
  t.equal(versionOf(path.join(dir, 'app/lib/main.js')), '4.2.0')
})

t.test('TypeScript: a directory with index.ts or server.ts, after JavaScript; dsu.transform.ts', async (t) => {
  fs.mkdirSync(path.join(dir, 'ts/index-only'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'ts/index-only/index.ts'), '')
  fs.writeFileSync(path.join(dir, 'ts/index-only/dsu.transform.ts'), '')
  t.equal(resolveEntry(path.join(dir, 'ts/index-only')), path.join(dir, 'ts/index-only/index.ts'))
  t.equal(resolveTransformer(null, path.join(dir, 'ts/index-only/index.ts')), path.join(dir, 'ts/index-only/dsu.transform.ts'))
  fs.mkdirSync(path.join(dir, 'ts/server-mts'))
  fs.writeFileSync(path.join(dir, 'ts/server-mts/server.mts'), '')
  t.equal(resolveEntry(path.join(dir, 'ts/server-mts')), path.join(dir, 'ts/server-mts/server.mts'))
  fs.mkdirSync(path.join(dir, 'ts/built'))
  fs.writeFileSync(path.join(dir, 'ts/built/server.ts'), '')
  fs.writeFileSync(path.join(dir, 'ts/built/server.js'), '')
  t.equal(resolveEntry(path.join(dir, 'ts/built')), path.join(dir, 'ts/built/server.js'), 'the built file beside its source')
  fs.mkdirSync(path.join(dir, 'ts/main'))
  fs.writeFileSync(path.join(dir, 'ts/main/package.json'), JSON.stringify({ main: 'src/app.ts' }))
  fs.mkdirSync(path.join(dir, 'ts/main/src'))
  fs.writeFileSync(path.join(dir, 'ts/main/src/app.ts'), '')
  t.equal(resolveEntry(path.join(dir, 'ts/main')), path.join(dir, 'ts/main/src/app.ts'))
})
