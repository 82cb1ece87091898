// Every error's exit code, spelled out: moving them into the catalogue
// (runtime/errors.ts) kept each one; a change here is a change deploy scripts see.
import t from 'tap'
import { catalogue, type ErrorCode } from '../runtime/errors.js'
import { EXIT, exitCodeFor } from './exit-codes.js'

const expected: Record<number, ErrorCode[]> = {
  [EXIT.usage]: ['DSU_ERR_USAGE', 'DSU_ERR_ENTRY_NOT_FOUND', 'DSU_ERR_TRANSFORMER_NOT_FOUND', 'DSU_ERR_CHECKPOINT_NOT_FOUND', 'DSU_ERR_APP_AMBIGUOUS', 'DSU_ERR_STATE_DIR', 'DSU_ERR_CONTROL_MESSAGE', 'DSU_ERR_TYPESCRIPT', 'DSU_ERR_CLUSTER', 'DSU_ERR_WORKER_THREAD_LISTEN'],
  [EXIT.noSupervisor]: ['DSU_ERR_NO_SUPERVISOR'],
  [EXIT.refused]: ['DSU_ERR_NO_PREVIOUS_VERSION', 'DSU_ERR_UPGRADE_IN_PROGRESS', 'DSU_ERR_SUPERVISOR_RUNNING', 'DSU_ERR_ADOPT_FAILED'],
  [EXIT.checkpoint]: ['DSU_ERR_CHECKPOINT_CORRUPT', 'DSU_ERR_CHECKPOINT_WRITE', 'DSU_ERR_JOURNAL', 'DSU_ERR_STATE_FILE', 'DSU_ERR_CLASS_MISSING', 'DSU_ERR_TYPE_MISSING'],
  [EXIT.programDied]: ['DSU_ERR_OLD_VERSION_EXITED', 'DSU_ERR_PROGRAM_EXITED'],
}

t.test('the exit code of every catalogue entry', async (t) => {
  t.same([EXIT.ok, EXIT.internal, EXIT.usage, EXIT.noSupervisor, EXIT.refused, EXIT.rolledBack, EXIT.checkFailed, EXIT.checkpoint, EXIT.programDied], [0, 1, 2, 3, 4, 5, 6, 7, 8])
  const named = new Map<string, number>()
  for (const [exit, codes] of Object.entries(expected)) for (const code of codes) named.set(code, Number(exit))
  for (const code of Object.keys(catalogue) as ErrorCode[]) {
    t.equal(exitCodeFor(code), named.get(code) ?? EXIT.internal, code)
  }
  t.equal(exitCodeFor('DSU_ERR_NOT_A_CODE' as ErrorCode), EXIT.internal, 'an unknown code (from a newer peer) is internal')
})
