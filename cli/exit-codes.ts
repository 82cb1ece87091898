// Exit codes a deploy pipeline can branch on (documented in the README).
import type { ErrorCode } from '../runtime/errors.js'

export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  noSupervisor: 3,
  refused: 4,
  rolledBack: 5,
  checkFailed: 6,
  checkpoint: 7,
  /** The program died (during an upgrade, before the new version held its state; or during a command): nothing serves until it is restarted. */
  programDied: 8,
} as const

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'DSU_ERR_OLD_VERSION_EXITED':
    case 'DSU_ERR_PROGRAM_EXITED':
      return EXIT.programDied
    case 'DSU_ERR_USAGE':
    case 'DSU_ERR_ENTRY_NOT_FOUND':
    case 'DSU_ERR_TRANSFORMER_NOT_FOUND':
    case 'DSU_ERR_CHECKPOINT_NOT_FOUND':
    case 'DSU_ERR_APP_AMBIGUOUS':
    case 'DSU_ERR_STATE_DIR':
    case 'DSU_ERR_CONTROL_MESSAGE':
    case 'DSU_ERR_TYPESCRIPT':
      return EXIT.usage
    case 'DSU_ERR_NO_SUPERVISOR':
      return EXIT.noSupervisor
    case 'DSU_ERR_NO_PREVIOUS_VERSION':
    case 'DSU_ERR_UPGRADE_IN_PROGRESS':
    case 'DSU_ERR_SUPERVISOR_RUNNING':
    case 'DSU_ERR_ADOPT_FAILED':
      return EXIT.refused
    // Not a bug in dsu: a file on disk, or the disk itself, needs attention.
    case 'DSU_ERR_CHECKPOINT_CORRUPT':
    case 'DSU_ERR_CHECKPOINT_WRITE':
    case 'DSU_ERR_JOURNAL':
      return EXIT.checkpoint
    default:
      return EXIT.internal
  }
}
