// Loaded (--import) into every worker thread of a program under dsu run (see
// guards.ts): a listen() here throws, named, instead of binding a socket that
// no upgrade can hand over.
import net from 'node:net'
import { isMainThread } from 'node:worker_threads'

if (!isMainThread) {
  net.Server.prototype.listen = function listen(): never {
    const error = new Error('DSU_ERR_WORKER_THREAD_LISTEN: a worker thread called listen(); under dsu run only the main thread may listen (its socket is handed to each new version): listen in the main thread, or use `dsu run --workers N` for more processes') as Error & { code: string }
    error.code = 'DSU_ERR_WORKER_THREAD_LISTEN'
    throw error
  } as typeof net.Server.prototype.listen
}
