// A program that imports the runtime still runs alone with plain `node`.
import t from 'tap'
import { execa } from 'execa'
import { app, post, getJson, watchOutput } from './harness.js'

t.test('node server.js works without a supervisor', async (t) => {
  const child = execa(process.execPath, [app('counter/v1/server.js')], { reject: false, all: true, buffer: false })
  t.teardown(() => { child.kill() })
  const port = Number((await watchOutput(child, 'node server.js').waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1])
  t.equal((await post(port, '/inc/a')).body.value, 1)
  t.equal((await post(port, '/inc/a')).body.value, 2)
  t.same(await getJson(port, '/state'), { version: 1, counters: { a: 2 } })
})

t.test('the runtime API degrades to no-ops', async (t) => {
  const code = `
    import { state, transaction, updatePoint, ready, deferReady, onPause, onResume, supervised, version } from 'dsu'
    const m = await state('m', () => new Map([[1, 2]]))
    const r = await transaction(async () => 7)
    await updatePoint()
    deferReady(); ready(); onPause(() => {}); onResume(() => {})
    console.log(JSON.stringify({ size: m.size, r, supervised: supervised(), version: version() }))
  `
  const result = await execa(process.execPath, ['--input-type=module', '-e', code], { reject: false })
  t.equal(result.exitCode, 0, result.stderr)
  t.same(JSON.parse(result.stdout), { size: 1, r: 7, supervised: false, version: null })
})
