// express-session's MemoryStore as marked state: logged-in sessions survive an
// upgrade, and one DSL rule (json()) adds a field inside its JSON strings.
import t from 'tap'
import { request } from 'undici'
import { app, dsu, runSupervised } from './harness.js'

async function call(port: number, method: 'GET' | 'POST', path: string, cookie?: string): Promise<{ body: any; cookie?: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method, headers: cookie ? { cookie } : {} })
  const set = res.headers['set-cookie']
  const first = Array.isArray(set) ? set[0] : set
  return { body: await res.body.json(), ...(first ? { cookie: first.split(';')[0]! } : {}) }
}

t.test('sessions logged in on v1 are still logged in on v2, each with plan "free"', async (t) => {
  const sup = await runSupervised(app('sessions/v1/server.js'))
  t.teardown(() => sup.stop())
  const ann = await call(sup.port, 'POST', '/login/ann')
  const bob = await call(sup.port, 'POST', '/login/bob')
  t.ok(ann.cookie && bob.cookie, 'session cookies set')
  t.same((await call(sup.port, 'GET', '/me', ann.cookie)).body, { user: 'ann', version: 1 })

  const up = await dsu(['upgrade', '--to', app('sessions/v2'), '--json', '--state-dir', sup.stateDir])
  t.equal(JSON.parse(up.stdout).outcome, 'committed', up.stdout)
  t.same((await call(sup.port, 'GET', '/me', ann.cookie)).body, { user: 'ann', plan: 'free', version: 2 }, 'ann: same session, new field')
  t.same((await call(sup.port, 'GET', '/me', bob.cookie)).body, { user: 'bob', plan: 'free', version: 2 }, 'bob too')
  t.same((await call(sup.port, 'GET', '/me')).body, { user: null, plan: null, version: 2 }, 'no cookie: no session')
  t.same((await call(sup.port, 'GET', '/store')).body, { nullPrototype: true }, 'the sessions object kept its null prototype')
})
