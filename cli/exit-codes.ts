// Exit codes a deploy pipeline can branch on (documented in the README). Each
// error's code lives with its hint in the catalogue (runtime/errors.ts); this
// module is the CLI's name for them.
import { exitCodeOf, type ErrorCode } from '../runtime/errors.js'

export { EXIT } from '../runtime/errors.js'

export function exitCodeFor(code: ErrorCode): number {
  return exitCodeOf(code)
}
