// Unit tests' fake program processes: the real ProgramLink (replies matched
// by seq, milestones, exit), with scripted behaviour instead of a process.
// Not a test itself (no .test.js), and not shipped (package.json excludes *.test.*).
import { REPLIES, type ProgramMessage, type RequestType, type SupervisorMessage } from '../protocol.js'
import { ProgramLink, type Exit } from './program-link.js'

export abstract class FakeLink extends ProgramLink {
  readonly received: SupervisorMessage[] = []
  /** The seq of the latest request of each type, which a reply echoes as the runtime does. */
  private readonly seqs = new Map<string, number>()

  /** What the fake program does with a message from the supervisor. */
  protected abstract handle(message: SupervisorMessage): void

  protected transmit(message: SupervisorMessage): Promise<void> {
    this.received.push(message)
    if (message.seq !== undefined) this.seqs.set(message.dsu, message.seq)
    queueMicrotask(() => this.handle(message))
    return Promise.resolve()
  }

  /**
   * The program sends `message`. A reply without an ack gets the seq of the
   * latest request it answers (the runtime echoes it: program/channel.ts).
   */
  emit(message: ProgramMessage, handle?: unknown): void {
    if (this.exit) return
    this.receive(this.acked(message), handle)
  }

  /** Sends exactly what it is given: no ack added (for stale or forged replies). */
  emitRaw(value: unknown, handle?: unknown): void {
    this.receive(value, handle)
  }

  acked(message: ProgramMessage): ProgramMessage {
    if (message.ack !== undefined || (message.dsu === 'restore-failed' && !this.seqs.has('receive-state'))) return message
    let ack: number | undefined
    for (const [type, seq] of this.seqs) {
      if ((REPLIES[type as RequestType] as readonly string[] | undefined)?.includes(message.dsu) && (ack === undefined || seq > ack)) ack = seq
    }
    return ack === undefined ? message : { ...message, ack }
  }

  die(code: number): void {
    this.settle({ code, signal: null })
  }

  protected exitWith(exit: Exit): void {
    this.settle(exit)
  }
}
