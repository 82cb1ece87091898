// Where the state dir goes by default, and which directories are trusted.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { defaultStateBase, operatorDir, prepareStateDir, stateDirIn, untrustedReason, validateAppName } from './state-dir.js'

const tmp = (t: { teardown(fn: () => void): void }): string => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-sd-')))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('the base is the start dir, or beside a release symlink', async (t) => {
  const dir = tmp(t)
  fs.mkdirSync(path.join(dir, 'releases', '3', 'lib'), { recursive: true })
  fs.symlinkSync('releases/3', path.join(dir, 'current'))
  t.equal(defaultStateBase(dir), dir)
  t.equal(defaultStateBase(path.join(dir, 'releases', '3')), dir, 'a physical release path (systemd WorkingDirectory=): the link above is found')
  t.equal(defaultStateBase(path.join(dir, 'releases', '3', 'lib')), dir)
  fs.mkdirSync(path.join(dir, 'plain', 'app'), { recursive: true })
  t.equal(defaultStateBase(path.join(dir, 'plain', 'app')), path.join(dir, 'plain', 'app'), 'no release link anywhere near')
  t.equal(defaultStateBase(path.join(dir, 'current')), dir)
  t.equal(defaultStateBase(path.join(dir, 'current', 'lib')), dir)
  // A link that points outside its parent (like /home -> /usr/home) is not a release symlink.
  const other = tmp(t)
  fs.symlinkSync(other, path.join(dir, 'data'))
  t.equal(defaultStateBase(path.join(dir, 'data')), path.join(dir, 'data'))
})

t.test('the operator dir keeps the logical path when $PWD names the same place', async (t) => {
  const dir = tmp(t)
  fs.mkdirSync(path.join(dir, 'releases', '1'), { recursive: true })
  fs.symlinkSync('releases/1', path.join(dir, 'current'))
  const physical = path.join(dir, 'releases', '1')
  t.equal(operatorDir(physical, path.join(dir, 'current')), path.join(dir, 'current'))
  t.equal(operatorDir(physical, dir), physical, 'a $PWD elsewhere is ignored')
  t.equal(operatorDir(physical, path.join(dir, 'gone')), physical, 'a stale $PWD is ignored')
  t.equal(operatorDir(physical, 'relative'), physical)
  t.equal(operatorDir(physical, undefined), physical)
})

t.test('named apps live under .dsu/apps/<name>; names are checked', async (t) => {
  t.equal(stateDirIn('/srv/app'), '/srv/app/.dsu')
  t.equal(stateDirIn('/srv/app', 'api'), '/srv/app/.dsu/apps/api')
  for (const bad of ['', '..', '../x', 'a/b', '.hidden', 'x'.repeat(65), 'a..b']) {
    t.throws(() => validateAppName(bad), { code: 'DSU_ERR_USAGE' }, JSON.stringify(bad))
  }
  t.equal(validateAppName('api-2.worker_1'), 'api-2.worker_1')
})

t.test('trust: owner, mode, symlinks', async (t) => {
  const dir = tmp(t)
  const uid = process.getuid!()
  const own = path.join(dir, 'own')
  fs.mkdirSync(own, { mode: 0o700 })
  t.equal(untrustedReason(own, uid), null)
  t.equal(untrustedReason(path.join(dir, 'missing'), uid), null, 'nothing there: nothing to distrust')
  t.match(untrustedReason(own, uid + 1), /owned by uid \d+, not by you/)
  fs.chmodSync(own, 0o775)
  t.match(untrustedReason(own, uid), /writable by its group \(mode 775\)/)
  fs.chmodSync(own, 0o707)
  t.match(untrustedReason(own, uid), /writable by everyone/)
  fs.chmodSync(own, 0o700)
  fs.symlinkSync(own, path.join(dir, 'link'))
  t.equal(untrustedReason(path.join(dir, 'link'), uid), null, 'a symlink of ours to a dir of ours')
  fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'))
  t.match(untrustedReason(path.join(dir, 'dangling'), uid), /dangling symlink/)
  fs.writeFileSync(path.join(dir, 'file'), '')
  t.match(untrustedReason(path.join(dir, 'file'), uid), /not a directory/)
})

t.test('prepareStateDir creates 0700 dirs, tightens a 0755 one, refuses unsafe ones with a named error', async (t) => {
  const dir = tmp(t)
  const named = prepareStateDir(stateDirIn(dir, 'api'))
  t.equal(fs.statSync(named).mode & 0o777, 0o700)
  t.equal(fs.statSync(path.join(dir, '.dsu')).mode & 0o777, 0o700)
  const loose = path.join(dir, 'loose')
  fs.mkdirSync(loose, { mode: 0o755 })
  fs.chmodSync(loose, 0o755)
  prepareStateDir(loose)
  t.equal(fs.statSync(loose).mode & 0o777, 0o700, 'readable by others only: tightened')
  fs.chmodSync(path.join(dir, '.dsu'), 0o777)
  t.throws(() => prepareStateDir(stateDirIn(dir, 'api')), { code: 'DSU_ERR_STATE_DIR', message: /\.dsu is writable by everyone/ }, 'a named app checks its .dsu/ too')
  fs.writeFileSync(path.join(dir, 'blocker'), '')
  t.throws(() => prepareStateDir(path.join(dir, 'blocker', 'sd')), { code: 'DSU_ERR_STATE_DIR', message: /cannot create state dir .*ENOTDIR/ })
})
