// Activation closes the offered handles the program did not claim, and only
// those: a listener the program binds fresh while activating (registered by
// the supervisor as its 'listener' message arrives, which can be before
// 'active' is handled) stays open. It used to be closed, so after a restore
// at start the next crash restart bound a new port.
import t from 'tap'
import type { ProgramMessage, SupervisorMessage } from '../protocol.js'
import type { ProgramProcess } from './program-process.js'
import { FakeLink } from './fake-program.test-support.js'
import { activate } from './activation.js'

class Handle {
  closed = false
  close(): void {
    this.closed = true
  }
}

class FakeProgram extends FakeLink implements ProgramProcess {
  readonly pid = 1
  readonly entry = '/app/server.js'
  readonly version = '1.0.0'

  constructor(private readonly onActivate: (keys: string[], emit: (m: ProgramMessage) => void) => void) {
    super()
  }

  protected handle(m: SupervisorMessage): void {
    if (m.dsu === 'activate') this.onActivate(m.keys, (reply) => this.emit(reply))
  }

  kill(): void {}
}

function program(onActivate: (keys: string[], emit: (m: ProgramMessage) => void) => void): ProgramProcess {
  return new FakeProgram(onActivate)
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
