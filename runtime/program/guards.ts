// What dsu cannot supervise, refused by name rather than left to crash:
//  - node:cluster. Its workers would inherit the program's role and IPC
//    channel and start a dsu runtime of their own (which unrefs cluster's
//    channel: EPIPE at start), and no upgrade could reach them. cluster.fork()
//    throws DSU_ERR_CLUSTER, and the supervisor stops with it: `--workers N`
//    is the supported way to use every core.
//  - listen() in a worker thread. The thread's net module is its own, so its
//    listening socket is never handed to the supervisor, and a new version's
//    thread gets EADDRINUSE. Every thread starts with thread-guard.js, whose
//    listen() throws DSU_ERR_WORKER_THREAD_LISTEN; the main thread tells the
//    supervisor, which stops with it.
import cluster from 'node:cluster'
import { syncBuiltinESMExports } from 'node:module'
import workerThreads from 'node:worker_threads'
import { DsuError, toWire } from '../errors.js'
import { send } from './channel.js'

const THREAD_GUARD = new URL('./thread-guard.js', import.meta.url).href

function refuse(error: DsuError): DsuError {
  void send({ dsu: 'refused', error: toWire(error) })
  return error
}

export function installGuards(): void {
  cluster.fork = (() => {
    throw refuse(new DsuError('DSU_ERR_CLUSTER', 'the program called cluster.fork() under dsu run; node:cluster workers cannot be supervised or upgraded: use `dsu run --workers N` instead'))
  }) as typeof cluster.fork
  const Original = workerThreads.Worker
  class GuardedWorker extends Original {
    constructor(filename: string | URL, options: workerThreads.WorkerOptions = {}) {
      const execArgv = [...(options.execArgv ?? process.execArgv), '--import', THREAD_GUARD]
      super(filename, { ...options, execArgv })
      // Errors cross threads as copies: the code travels in the message.
      this.on('error', (error: unknown) => {
        const message = (error as { message?: unknown })?.message
        if (typeof message === 'string' && message.startsWith('DSU_ERR_WORKER_THREAD_LISTEN')) {
          refuse(new DsuError('DSU_ERR_WORKER_THREAD_LISTEN', message.replace(/^DSU_ERR_WORKER_THREAD_LISTEN: /, '')))
        }
      })
    }
  }
  workerThreads.Worker = GuardedWorker as typeof workerThreads.Worker
  // `import { Worker } from 'node:worker_threads'` sees the guarded class too.
  syncBuiltinESMExports()
}
