// The state directory (default .dsu/ beside the entry): the control socket and
// state-stream sockets live here. 0700 so only the owner reaches the sockets.
import fs from 'node:fs'
import path from 'node:path'

export const CONTROL_SOCKET = 'control.sock'

export function defaultStateDir(entry: string): string {
  return path.join(path.dirname(entry), '.dsu')
}

export function prepareStateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  fs.chmodSync(dir, 0o700)
  return dir
}

export function controlSocketPath(dir: string): string {
  return path.join(dir, CONTROL_SOCKET)
}
