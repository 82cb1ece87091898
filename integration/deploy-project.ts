// A project folder as users deploy one: outside the repo, resolving 'dsu' (and
// zod, for the counter's transformer schema) from its own node_modules, with
// `dsu` on its npm PATH, holding counter releases.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { app, cli, root } from './harness.js'

export function project(t: { teardown(fn: () => void): void }): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-layout-')))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true })
  for (const name of fs.readdirSync(path.join(root, 'node_modules'))) {
    if (name !== '.bin') fs.symlinkSync(path.join(root, 'node_modules', name), path.join(dir, 'node_modules', name))
  }
  fs.symlinkSync(cli, path.join(dir, 'node_modules', '.bin', 'dsu'))
  return dir
}

/** Copies counter version `v` (server, package.json, transformer) into `dir`. */
export function release(dir: string, v: 'v1' | 'v2' | 'v3'): string {
  fs.mkdirSync(dir, { recursive: true })
  const from = app(`counter/${v}`)
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(dir, f))
  return dir
}
