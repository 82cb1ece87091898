// The state directory: the control socket, state-stream sockets, the journal
// and checkpoints. It belongs to the deployment, not to a release (DESIGN.md §6):
// by default `.dsu/` in the directory `dsu run` was started in — or beside the
// `current` symlink when it was started inside a release reached through one —
// and `.dsu/apps/<name>/` for an app started with `--name`. Only its owner may
// reach it: 0700, owned by the user running dsu, never writable by others.
import fs from 'node:fs'
import path from 'node:path'
import { DsuError } from '../errors.js'

export const CONTROL_SOCKET = 'control.sock'
export const STATE_DIR_NAME = '.dsu'
/** Named apps live under `.dsu/apps/<name>/`, beside the unnamed app's files. */
export const APPS_DIR = 'apps'

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i

export function validateAppName(name: string): string {
  if (!NAME.test(name) || name.includes('..')) {
    throw new DsuError('DSU_ERR_USAGE', `app name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_' and '-' (up to 64), starting with a letter or digit`)
  }
  return name
}

/** `<base>/.dsu`, or `<base>/.dsu/apps/<name>` for a named app. */
export function stateDirIn(base: string, name?: string): string {
  const dir = path.join(base, STATE_DIR_NAME)
  return name === undefined ? dir : path.join(dir, APPS_DIR, validateAppName(name))
}

/**
 * Where the operator stands: the shell's logical working directory ($PWD) when
 * it names the same place as the physical one, so a path through a `current`
 * symlink keeps its symlink; else the physical directory.
 */
export function operatorDir(cwd = process.cwd(), pwd = process.env.PWD): string {
  if (pwd && path.isAbsolute(pwd)) {
    try {
      if (fs.realpathSync(pwd) === fs.realpathSync(cwd)) return path.normalize(pwd)
    } catch {
      // a stale $PWD: fall back to the physical directory
    }
  }
  return cwd
}

/**
 * The base of the default state dir for `dsu run` started in `dir`. Inside a
 * release reached through a release symlink (`/srv/app/current` →
 * `/srv/app/releases/3`), the base is the directory holding the symlink, so
 * the journal and checkpoints survive the deploy tool deleting old releases.
 * A symlink counts as a release symlink when it points inside its own parent
 * (not `/`): system links such as `/home` → `/usr/home` do not.
 */
export function defaultStateBase(dir: string = operatorDir()): string {
  const parts = path.resolve(dir).split(path.sep)
  for (let i = parts.length; i > 1; i--) {
    const link = parts.slice(0, i).join(path.sep) || path.sep
    const parent = path.dirname(link)
    if (parent === path.sep) break
    try {
      if (!fs.lstatSync(link).isSymbolicLink()) continue
      const target = fs.realpathSync(link)
      const realParent = fs.realpathSync(parent)
      if (target.startsWith(realParent + path.sep)) return parent
    } catch {
      // unreadable: not a release symlink
    }
  }
  return releaseLinkAbove(path.resolve(dir)) ?? path.resolve(dir)
}

/**
 * A physical path gives no symlink to go by (systemd resolves
 * `WorkingDirectory=/srv/app/current` and sets no $PWD): look a few levels up
 * for a symlink that points at the directory or one of its ancestors
 * (`/srv/app/current` → `/srv/app/releases/3`), and return its folder.
 */
function releaseLinkAbove(dir: string, levels = 3): string | null {
  let target: string
  try {
    target = fs.realpathSync(dir)
  } catch {
    return null
  }
  for (let i = 0; i < levels; i++) {
    const parent = path.dirname(target)
    if (parent === target || parent === path.sep) return null
    for (let holder = parent, up = 0; up < levels - i && holder !== path.sep; holder = path.dirname(holder), up++) {
      let names: string[]
      try {
        names = fs.readdirSync(holder)
      } catch {
        break
      }
      for (const name of names) {
        const link = path.join(holder, name)
        try {
          if (fs.lstatSync(link).isSymbolicLink() && fs.realpathSync(link) === target) return holder
        } catch {
          // dangling or unreadable: not it
        }
      }
    }
    target = parent
  }
  return null
}

/**
 * Why `dir` must not be trusted, or null: it (or, for a symlink, the link
 * itself) is owned by another user, or others may write to it. A state dir
 * someone else controls could hold a forged control socket or checkpoint.
 */
export function untrustedReason(dir: string, uid = process.getuid?.()): string | null {
  if (uid === undefined) return null // no owners to compare (Windows)
  let link: fs.Stats
  try {
    link = fs.lstatSync(dir)
  } catch {
    return null // does not exist: nothing to distrust
  }
  if (link.uid !== uid) return `${dir} is owned by uid ${link.uid}, not by you (uid ${uid})`
  let stat = link
  if (link.isSymbolicLink()) {
    try {
      stat = fs.statSync(dir)
    } catch {
      return `${dir} is a dangling symlink`
    }
    if (stat.uid !== uid) return `${dir} is a symlink to ${fs.realpathSync(dir)}, owned by uid ${stat.uid}, not by you (uid ${uid})`
  }
  if (!stat.isDirectory()) return `${dir} is not a directory`
  if ((stat.mode & 0o022) !== 0) return `${dir} is writable by ${stat.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(stat.mode & 0o777).toString(8)})`
  return null
}

/** Refuses a state dir (and, for a named app, its `.dsu/` parent) that is not the user's own. */
export function assertTrusted(dir: string): void {
  const chain = [dir]
  const dotDsu = path.dirname(path.dirname(dir))
  if (path.basename(path.dirname(dir)) === APPS_DIR && path.basename(dotDsu) === STATE_DIR_NAME) chain.push(dotDsu)
  for (const d of chain) {
    const reason = untrustedReason(d)
    if (reason) {
      throw new DsuError('DSU_ERR_STATE_DIR', `state dir ${dir} cannot be trusted: ${reason}; fix it (chown, chmod 700) or pass another --state-dir`)
    }
  }
}

/** Creates the state dir 0700 (parents too), or checks an existing one is the user's own. */
export function prepareStateDir(dir: string): string {
  assertTrusted(dir)
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    fs.chmodSync(dir, 0o700)
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException
    throw new DsuError('DSU_ERR_STATE_DIR', `cannot create state dir ${dir}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' '), { cause })
  }
  assertTrusted(dir) // a race could have planted something between the check and mkdir
  return dir
}

/** Where a program left running by a dead supervisor waits for the next `dsu run`. */
export function adoptSocketPath(dir: string): string {
  return path.join(dir, 'adopt.sock')
}

export function controlSocketPath(dir: string): string {
  return path.join(dir, CONTROL_SOCKET)
}
