// Pre-copy: the old version streams its opted-in Map roots while it still
// serves, then sends, in rounds, only the entries touched meanwhile (see
// write-tracker.ts). The pause is left with the last round's changes and the
// roots that did not opt in. Frames and the DONE check are the state stream's.
import type net from 'node:net'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { DsuError, isDsuError } from '../errors.js'
import { writeFrame } from './framing.js'
import { doneFrame, encodeRoots, FrameType, patchFrames, type TransferStats } from './state-codec.js'
import { mapValueSegment, Walker } from './validate.js'
import { track, untracked, type Tracker } from './write-tracker.js'

export interface PrecopyOptions {
  /** Rounds of changes sent while serving before giving up on converging. */
  maxRounds?: number
  /** A round with at most this many touched entries ends the pre-copy. */
  converged?: number
  /** Entries per PATCH frame. */
  patchSize?: number
  /** Bytes queued in the socket before waiting for 'drain'. */
  maxBuffered?: number
  /** Called with the bytes sent so far, at most every `progressMs` while frames go out. */
  onProgress?: (bytes: number) => void
  progressMs?: number
}

export class PrecopySender {
  private readonly trackers = new Map<string, Tracker>()
  private readonly stats: TransferStats = { bytes: 0, records: 0, roots: 0 }
  private aborted = false
  private lastProgress = performance.now()
  private readonly options: Required<PrecopyOptions>

  constructor(
    private readonly socket: net.Socket,
    private readonly precopied: ReadonlyMap<string, Map<unknown, unknown>>,
    options: PrecopyOptions = {},
  ) {
    this.options = { maxRounds: 4, converged: 256, patchSize: 2048, maxBuffered: 4 * 1024 * 1024, onProgress: () => {}, progressMs: 250, ...options }
    // Tracking starts before the first byte is read, so nothing changed after
    // the snapshot began can be missed (within the opt-in contract).
    for (const [name, map] of precopied) this.trackers.set(name, track(map))
  }

  /** While serving: the snapshot, then rounds of changes. Resolves once converged. */
  async run(): Promise<{ rounds: number; lastRound: number }> {
    for (const [name, map] of this.precopied) {
      // Frames of one root, without the stream's own DONE (sent at the end).
      const frames = encodeRoots(new Map([[name, map]]))
      for (;;) {
        const next = untracked(() => frames.next())
        if (next.done) break
        if (next.value[0] === FrameType.DONE) continue
        await this.write(next.value)
      }
      this.stats.roots++
    }
    let rounds = 0
    let lastRound = Infinity
    while (rounds < this.options.maxRounds && lastRound > this.options.converged) {
      lastRound = await this.sendChanges()
      rounds++
    }
    return { rounds, lastRound }
  }

  /** At the quiescent point: the last changes, the other roots, DONE. */
  async finish(others: ReadonlyMap<string, unknown>): Promise<TransferStats> {
    await this.sendChanges()
    for (const tracker of this.trackers.values()) tracker.untrack()
    for (const map of this.precopied.values()) this.stats.records += map.size
    const frames = encodeRoots(others)
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
    return { ...this.stats }
  }

  /** Whether `name` is one of the roots this sender streams. */
  copies(name: string): boolean {
    return this.precopied.has(name)
  }

  /** Rollback: stop tracking, drop the stream. */
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    for (const tracker of this.trackers.values()) tracker.untrack()
    this.socket.destroy()
  }

  // One round: every touched entry as set/delete ops. Returns how many.
  private async sendChanges(): Promise<number> {
    let touched = 0
    for (const [name, map] of this.precopied) {
      const round = this.trackers.get(name)!.take()
      const keys = round.all ? untracked(() => new Set([...round.keys, ...Map.prototype.keys.call(map)])) : round.keys
      touched += keys.size
      let ops: unknown[] = []
      let i = 0
      // One walk per PATCH frame: positions of registered values count within its payload.
      let walker = new Walker()
      for (const key of keys) {
        if (typeof key === 'object' && key !== null) {
          // A key sent again would arrive as a new object and add an entry instead of replacing one.
          throw new DsuError('DSU_ERR_UNSERIALIZABLE', `${name}: a pre-copied Map needs primitive keys, found ${Array.isArray(key) ? 'an array' : 'an object'} key`)
        }
        if (Map.prototype.has.call(map, key)) {
          const value = Map.prototype.get.call(map, key)
          walker.elementAt(ops.length + 2) // where the value lands: 1, key, value
          const failure = walker.walk(value)
          if (failure) throw failure.at(mapValueSegment(key, i)).toError(name)
          ops.push(1, key, value)
        } else {
          ops.push(0, key)
        }
        if (++i % this.options.patchSize === 0) {
          for (const frame of patchFrames(name, ops, walker.takeMarks())) await this.write(frame)
          ops = []
          walker = new Walker()
        }
      }
      if (ops.length > 0) for (const frame of patchFrames(name, ops, walker.takeMarks())) await this.write(frame)
    }
    return touched
  }

  private async write(frame: Buffer, count = true): Promise<void> {
    if (this.aborted || this.socket.destroyed) throw new DsuError('DSU_ERR_STATE_STREAM', 'the pre-copy stream was closed')
    if (count) this.stats.bytes += frame.length
    try {
      writeFrame(this.socket, frame)
    } catch (error) {
      throw isDsuError(error) ? error : new DsuError('DSU_ERR_STATE_STREAM', String(error))
    }
    // Yield either way: the program keeps serving while the snapshot streams.
    if (this.socket.writableLength > this.options.maxBuffered) await this.drained()
    else await nextTurn()
    // Progress is reported after a write went through, so a receiver that
    // stopped reading (a full socket) stops the reports: the supervisor's
    // stall deadline sees that.
    const now = performance.now()
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
