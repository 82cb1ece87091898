// Length-prefixed frames on a byte stream: [u32 BE frame length][frame].
// The length is never 0 (every frame has a type byte) and at most MAX_FRAME, so
// a garbled prefix is caught at once instead of waiting for gigabytes.

import type { Writable } from 'node:stream'
import { DsuError } from '../errors.js'

export const MAX_FRAME = 0x7fff_ffff

/** Writes one frame without copying it: cork makes header and body one writev. */
/** The 4-byte length prefix of `frame`. */
export function frameHead(frame: Buffer): Buffer {
  if (frame.length === 0 || frame.length > MAX_FRAME) {
    throw new DsuError('DSU_ERR_STATE_STREAM', `state frame of ${frame.length} bytes cannot be framed (limit ${MAX_FRAME})`)
  }
  const head = Buffer.allocUnsafe(4)
  head.writeUInt32BE(frame.length)
  return head
}

export function writeFrame(out: Writable, frame: Buffer): void {
  const head = frameHead(frame)
  out.cork()
  out.write(head)
  out.write(frame)
  out.uncork()
}

/** Cuts incoming chunks into frames; holds at most one partial frame. */
export class FrameReader {
  private chunks: Buffer[] = []
  private buffered = 0
  private need = -1 // length of the frame being read, -1 while reading its prefix

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return
        const length = this.take(4).readUInt32BE(0)
        if (length === 0 || length > MAX_FRAME) {
          throw new DsuError('DSU_ERR_STATE_STREAM', `malformed state frame: bad length ${length}`)
        }
        this.need = length
      }
      if (this.buffered < this.need) return
      const frame = this.take(this.need)
      this.need = -1
      onFrame(frame)
    }
  }

  /** Bytes of an unfinished frame (or prefix) still waiting for data. */
  get pending(): number {
    return this.buffered + (this.need < 0 ? 0 : 4)
  }

  // A frame inside one chunk is a view, not a copy; only frames spanning
  // chunks are assembled.
  private take(n: number): Buffer {
    const first = this.chunks[0]!
    this.buffered -= n
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let offset = 0
    let used = 0
    while (offset < n) {
      const chunk = this.chunks[used]!
      const k = Math.min(chunk.length, n - offset)
      chunk.copy(out, offset, 0, k)
      offset += k
      if (k === chunk.length) used++
      else this.chunks[used] = chunk.subarray(k)
    }
    this.chunks.splice(0, used)
    return out
  }
}
