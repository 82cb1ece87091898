// Pre-copy: the old version streams its collection roots (Map, Set, array,
// plain object) while it still serves, entry by entry, keeping a shadow of what it sent;
// at the quiescent point it sends only the entries that changed
// (entry-copy.ts), and the roots that were not pre-copied. Nothing is tracked
// and the program keeps no contract. Frames and the DONE check are the state
// stream's.
import type net from 'node:net'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { DsuError, isDsuError } from '../errors.js'
import { writeFrame } from './framing.js'
import { doneFrame, encodeRoots, FrameType, kindOf, type TransferStats } from './state-codec.js'
import { dropFrame, RootCopy, sizeOf } from './entry-copy.js'

export interface PrecopyOptions {
  /** Bytes queued in the socket before waiting for 'drain'. */
  maxBuffered?: number
  /** Called with the bytes sent so far, at most every `progressMs` while frames go out. */
  onProgress?: (bytes: number) => void
  progressMs?: number
  /**
   * Longest the snapshot runs before it yields to the program (one event-loop
   * turn: pending I/O is served in between). A frame of the bench's records
   * costs ~2–5 ms, so a slice is one such frame, or several of small entries
   * (fewer turns, a shorter pre-copy). 2 ms, not 4: at 100k records the gap
   * clients saw during the pre-copy looked longer with 4 (noisy runs).
   */
  sliceMs?: number
  /** The clock slices are measured with (ms; tests give a fake one). */
  now?: () => number
  /** How the snapshot yields (tests count the turns). */
  yieldTurn?: () => Promise<unknown>
}

/** What the pause did with each pre-copied root. */
export interface PrecopyFinish extends TransferStats {
  /** Entries resent in the pause (changed, new or deleted), over all pre-copied roots. */
  changed: number
  /** Pre-copied roots sent whole in the pause instead, and why. */
  whole: Record<string, string>
}

export class PrecopySender {
  private readonly copies_: RootCopy[]
  private readonly stats: TransferStats = { bytes: 0, records: 0, roots: 0 }
  private aborted = false
  private lastProgress: number
  private readonly options: Required<PrecopyOptions>

  constructor(
    private readonly socket: net.Socket,
    precopied: ReadonlyMap<string, object>,
    options: PrecopyOptions = {},
  ) {
    this.options = { maxBuffered: 1024 * 1024, onProgress: () => {}, progressMs: 250, sliceMs: 2, now: () => performance.now(), yieldTurn: () => nextTurn(), ...options }
    this.copies_ = [...precopied].map(([name, root]) => new RootCopy(name, root, kindOf(root)!))
    this.lastProgress = this.options.now()
  }

  /**
   * While serving: every entry of every pre-copied root, once, in slices of
   * at most `sliceMs` (one frame at least) between which the program serves.
   * A full socket (above `maxBuffered`) also ends a slice, until it drains:
   * frames wait in the socket only that long, not in memory.
   */
  async run(): Promise<{ rounds: number; lastRound: number }> {
    const { now, sliceMs } = this.options
    let entries = 0
    let sliceStart = now()
    for (const copy of this.copies_) {
      const frames = copy.snapshot()
      for (;;) {
        const next = frames.next()
        if (next.done) break
        this.send(next.value)
        if (this.socket.writableLength > this.options.maxBuffered) {
          await this.drained()
          sliceStart = now()
        } else if (now() - sliceStart >= sliceMs) {
          await this.options.yieldTurn()
          sliceStart = now()
        }
        this.progress()
      }
      entries += copy.sentEntries
    }
    return { rounds: 1, lastRound: entries }
  }

  /** At the quiescent point: the changed entries, the other roots, DONE. */
  async finish(others: ReadonlyMap<string, unknown>): Promise<PrecopyFinish> {
    const whole = new Map(others)
    const why: Record<string, string> = {}
    let changed = 0
    for (const copy of this.copies_) {
      const outcome = copy.diff()
      if ('whole' in outcome) {
        // Sent as it would be without pre-copy, after the receiver forgets what it got.
        await this.write(dropFrame(copy.name))
        whole.set(copy.name, copy.root)
        why[copy.name] = outcome.whole
        continue
      }
      for (const frame of outcome.frames) await this.write(frame)
      changed += outcome.changed
      this.stats.records += sizeOf(copy.root, copy.kind)
      this.stats.roots++
    }
    const frames = encodeRoots(whole)
    for (;;) {
      const next = frames.next()
      if (next.done) {
        this.stats.records += next.value.records
        this.stats.roots += next.value.roots
        break
      }
      if (next.value[0] === FrameType.DONE) continue
      await this.write(next.value)
    }
    await this.write(doneFrame(this.stats), false)
    this.socket.end()
    return { ...this.stats, changed, whole: why }
  }

  /** Whether `name` is one of the roots this sender streams. */
  copies(name: string): boolean {
    return this.copies_.some((copy) => copy.name === name)
  }

  /** Rollback: drop the stream (nothing to undo in the program). */
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    this.socket.destroy()
  }

  // The pause's writes (finish), one frame at a time, as before pacing.
  private async write(frame: Buffer, count = true): Promise<void> {
    this.send(frame, count)
    if (this.socket.writableLength > this.options.maxBuffered) await this.drained()
    else await nextTurn()
    this.progress()
  }

  private send(frame: Buffer, count = true): void {
    if (this.aborted || this.socket.destroyed) throw new DsuError('DSU_ERR_STATE_STREAM', 'the pre-copy stream was closed')
    if (count) this.stats.bytes += frame.length
    try {
      writeFrame(this.socket, frame)
    } catch (error) {
      throw isDsuError(error) ? error : new DsuError('DSU_ERR_STATE_STREAM', String(error))
    }
  }

  // Progress is reported after a write went through, so a receiver that
  // stopped reading (a full socket) stops the reports: the supervisor's
  // stall deadline sees that.
  private progress(): void {
    const now = this.options.now()
    if (now - this.lastProgress >= this.options.progressMs) {
      this.lastProgress = now
      this.options.onProgress(this.stats.bytes)
    }
  }

  // Waits for 'drain', but fails as soon as the socket closes (the receiver died).
  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        this.socket.off('drain', onDrain)
        this.socket.off('close', onClose)
        if (error) reject(error)
        else resolve()
      }
      const onDrain = (): void => done()
      const onClose = (): void => done(new DsuError('DSU_ERR_STATE_STREAM', 'the pre-copy stream closed while sending'))
      this.socket.on('drain', onDrain)
      this.socket.on('close', onClose)
    })
  }
}
