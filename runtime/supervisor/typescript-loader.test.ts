// The loader decision, for every kind of Node: runtimes and tsx's presence are injected.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { loadsTypeScript, nodeArgsFor, tsxLoaderUrl, type NodeRuntime } from './typescript-loader.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-ts-loader-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
fs.writeFileSync(path.join(dir, 'package.json'), '{}')
fs.mkdirSync(path.join(dir, 'chain-ts'))
fs.writeFileSync(path.join(dir, 'chain-ts/1.0.0--2.0.0.ts'), '')
fs.mkdirSync(path.join(dir, 'chain-js'))
fs.writeFileSync(path.join(dir, 'chain-js/1.0.0--2.0.0.js'), '')

const node20: NodeRuntime = { version: 'v20.20.2', typescript: undefined, nodeOptions: undefined }
const node22strip: NodeRuntime = { version: 'v22.18.0', typescript: 'strip', nodeOptions: undefined }
const node22flag: NodeRuntime = { version: 'v22.12.0', typescript: false, nodeOptions: undefined }
const node23early: NodeRuntime = { version: 'v23.3.0', typescript: false, nodeOptions: undefined }
const TSX = 'file:///app/node_modules/tsx/dist/loader.mjs'
const withTsx = (): string => TSX
const noTsx = (): null => null
const entry = (name: string): string => path.join(dir, name)

t.test('JavaScript only: the user\'s flags, unchanged, and tsx is not looked for', async (t) => {
  const look = (): string => t.fail('tsx looked up') as never
  t.same(nodeArgsFor({ entry: entry('server.js'), nodeArgs: ['--max-old-space-size=256'] }, node20, look), ['--max-old-space-size=256'])
  t.same(nodeArgsFor({ entry: entry('server.mjs'), modules: [entry('dsu.transform.js'), path.join(dir, 'chain-js'), null] }, node20, look), [])
})

t.test('tsx installed: its loader first, on any Node, then the user\'s flags', async (t) => {
  for (const name of ['server.ts', 'server.mts', 'server.cts']) {
    t.same(nodeArgsFor({ entry: entry(name), nodeArgs: ['--inspect'] }, node20, withTsx), [`--import=${TSX}`, '--inspect'], name)
  }
  t.same(nodeArgsFor({ entry: entry('server.ts') }, node22strip, withTsx), [`--import=${TSX}`], 'preferred to Node\'s own stripping')
  const seen: string[] = []
  t.same(nodeArgsFor({ entry: entry('server.ts') }, node20, (from) => (seen.push(from), TSX)), [`--import=${TSX}`])
  t.same(seen, [entry('server.ts')], 'resolved from the entry')
})

t.test('a TypeScript transformer or chain link needs the loader too', async (t) => {
  t.same(nodeArgsFor({ entry: entry('server.js'), modules: [entry('dsu.transform.ts')] }, node20, withTsx), [`--import=${TSX}`])
  t.same(nodeArgsFor({ entry: entry('server.js'), modules: [`${entry('dsu.transform.mts')}#reverse`] }, node20, withTsx), [`--import=${TSX}`])
  t.same(nodeArgsFor({ entry: entry('server.js'), modules: [null, path.join(dir, 'chain-ts')] }, node20, withTsx), [`--import=${TSX}`])
  t.throws(() => nodeArgsFor({ entry: entry('server.js'), modules: [entry('dsu.transform.ts')] }, node20, noTsx), {
    code: 'DSU_ERR_TYPESCRIPT', message: /^cannot load dsu\.transform\.ts: /,
  })
})

t.test('a loader the user gives is not added twice', async (t) => {
  const ts = { entry: entry('server.ts') }
  for (const flags of [['--import=tsx'], ['--import', 'tsx'], ['--import=tsx/esm'], ['--loader=ts-node/esm'], ['-r', 'ts-node/register'],
    ['--require=@swc-node/register'], [`--import=${TSX}`], ['--experimental-strip-types'], ['--experimental-transform-types']]) {
    t.same(nodeArgsFor({ ...ts, nodeArgs: flags }, node20, withTsx), flags, flags.join(' '))
    t.ok(loadsTypeScript(flags), flags.join(' '))
  }
  t.same(nodeArgsFor(ts, { ...node20, nodeOptions: '--enable-source-maps --import tsx' }, noTsx), [], 'NODE_OPTIONS counts')
  t.notOk(loadsTypeScript(['--import=./telemetry.mjs', '--max-old-space-size=256']))
  t.notOk(loadsTypeScript(['--import=./my-tsx-helpers.mjs']), 'a name that only contains tsx')
})

t.test('no tsx: Node\'s own type stripping where this Node has it', async (t) => {
  t.same(nodeArgsFor({ entry: entry('server.ts'), nodeArgs: ['--inspect'] }, node22strip, noTsx), ['--inspect'], 'on by default')
  t.same(nodeArgsFor({ entry: entry('server.ts') }, node22flag, noTsx), ['--experimental-strip-types'], '22.6–22.17')
  t.same(nodeArgsFor({ entry: entry('server.ts') }, node23early, noTsx), ['--experimental-strip-types'], '23.0–23.5')
  t.same(nodeArgsFor({ entry: entry('server.ts') }, { version: 'v24.1.0', typescript: 'strip', nodeOptions: undefined }, noTsx), [])
})

t.test('no tsx and a Node without TypeScript: DSU_ERR_TYPESCRIPT naming the file, the Node, the project and the fix', async (t) => {
  for (const version of ['v20.20.2', 'v22.5.1']) {
    t.throws(() => nodeArgsFor({ entry: entry('server.ts') }, { ...node20, version }, noTsx), {
      code: 'DSU_ERR_TYPESCRIPT',
      message: `cannot run server.ts: Node ${version} has no TypeScript support and tsx is not installed in ${dir}; fix: npm install --save-dev tsx (or use Node >= 22.18)`,
    }, version)
  }
})

t.test('tsx is found from the entry\'s directory, as a file URL to its loader', async (t) => {
  const url = tsxLoaderUrl(path.join(root, 'integration/apps/visits-ts/v1/server.ts'))
  t.match(url, /^file:\/\/\/.*\/node_modules\/tsx\/dist\/loader\.mjs$/)
  t.ok(fs.existsSync(fileURLToPath(url!)), 'the loader exists')
  t.equal(tsxLoaderUrl(entry('server.ts')), null, 'not installed where the entry is')
})
