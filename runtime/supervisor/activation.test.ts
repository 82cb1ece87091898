// Activation closes the offered handles the program did not claim, and only
// those: a listener the program binds fresh while activating (registered by
// the supervisor as its 'listener' message arrives, which can be before
// 'active' is handled) stays open. It used to be closed, so after a restore
// at start the next crash restart bound a new port.
import t from 'tap'
import type { ProgramMessage, SupervisorMessage } from '../protocol.js'
import type { Exit, ProgramProcess } from './program-process.js'
import { activate } from './activation.js'

class Handle {
  closed = false
  close(): void {
    this.closed = true
  }
}

function program(onActivate: (keys: string[], emit: (m: ProgramMessage) => void) => void): ProgramProcess {
  const listeners = new Set<(m: ProgramMessage, h: unknown) => void>()
  const emit = (m: ProgramMessage): void => {
    for (const l of [...listeners]) l(m, undefined)
  }
  return {
    pid: 1, entry: '/app/server.js', version: '1.0.0', startedAt: 0, exit: null as Exit | null,
    exited: new Promise<Exit>(() => {}),
    send: (m: SupervisorMessage) => {
      if (m.dsu === 'activate') queueMicrotask(() => onActivate(m.keys, emit))
      return Promise.resolve()
    },
    onMessage: (l) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    onExit: () => () => {},
    take: () => undefined,
    clearInbox: () => {},
    kill: () => {},
  }
}

t.test('unclaimed offered handles are closed; a listener registered during activation is kept', async (t) => {
  const claimed = new Handle()
  const unclaimed = new Handle()
  const fresh = new Handle()
  const listeners = new Map<string, unknown>([['tcp:*:80#1', claimed], ['tcp:*:81#1', unclaimed]])
  await activate(program((keys, emit) => {
    t.same(keys, ['tcp:*:80#1', 'tcp:*:81#1'])
    listeners.set('tcp:127.0.0.1:0#1', fresh) // the supervisor saw the program's new listener first
    emit({ dsu: 'active', keys: ['tcp:*:80#1'] })
  }), listeners, { timeoutMs: 1000, phase: 'activate' })
  t.same([...listeners.keys()], ['tcp:*:80#1', 'tcp:127.0.0.1:0#1'])
  t.same([claimed.closed, unclaimed.closed, fresh.closed], [false, true, false])
})
