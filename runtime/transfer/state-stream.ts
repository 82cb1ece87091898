// Sends and receives marked state over a connected stream socket (a Unix socket
// between the old and the new process). Frames: see framing.ts and state-codec.ts.

import type net from 'node:net'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { DsuError, isDsuError } from '../errors.js'
import { FrameReader, writeFrame } from './framing.js'
import { encodeRoots, StateDecoder, type DecodeOptions, type EncodeOptions, type TransferStats } from './state-codec.js'

export type { TransferStats } from './state-codec.js'

export interface SendOptions extends EncodeOptions {
  /**
   * Bytes queued in the socket before waiting for 'drain'. Above the stream's
   * own highWaterMark so the next chunk is serialized while the receiver is
   * still decoding the previous one.
   */
  maxBuffered?: number
}

const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024

function streamError(message: string, cause?: unknown): DsuError {
  return new DsuError('DSU_ERR_STATE_STREAM', message, cause === undefined ? undefined : { cause })
}

/**
 * Streams `roots` and ends the socket. Rejects with DSU_ERR_UNSERIALIZABLE (and
 * destroys the socket, so the receiver fails too) on a refused value, or with
 * DSU_ERR_STATE_STREAM if the socket breaks.
 */
export async function sendState(
  socket: net.Socket,
  roots: ReadonlyMap<string, unknown>,
  options: SendOptions = {},
): Promise<TransferStats> {
  const maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED
  let broken: DsuError | undefined
  let onBroken: ((error: DsuError) => void) | undefined
  const onError = (error: Error): void => breakWith(streamError(`state stream failed: ${error.message}`, error))
  const onClose = (): void => breakWith(streamError('state stream closed before the transfer finished'))
  function breakWith(error: DsuError): void {
    broken ??= error
    onBroken?.(broken)
  }
  // Resolves on `event`, rejects as soon as the socket breaks.
  const until = (event: 'drain' | 'finish'): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (broken) return reject(broken)
      const done = (): void => {
        socket.off(event, done)
        onBroken = undefined
        resolve()
      }
      onBroken = (error) => {
        socket.off(event, done)
        reject(error)
      }
      socket.on(event, done)
    })

  socket.on('error', onError)
  socket.on('close', onClose)
  const frames = encodeRoots(roots, options)
  try {
    for (;;) {
      if (broken) throw broken
      const next = frames.next()
      if (next.done) {
        socket.end()
        await until('finish')
        return next.value
      }
      writeFrame(socket, next.value)
      // Yield between frames either way, so timers and I/O run during a long transfer.
      if (socket.writableLength > maxBuffered) await until('drain')
      else await nextTurn()
    }
  } catch (error) {
    frames.return(undefined as never)
    socket.destroy()
    throw isDsuError(error) ? error : streamError(`state stream failed: ${String(error)}`, error)
  } finally {
    socket.off('close', onClose)
    socket.off('error', onError)
    // The socket is finished or destroyed; a late error on it must not crash the process.
    socket.on('error', () => {})
  }
}

/**
 * Decodes frames as they arrive and resolves on DONE. Rejects with
 * DSU_ERR_STATE_STREAM (and destroys the socket) if the stream ends early or a
 * frame is malformed. On success the socket is left to the caller.
 */
export function receiveState(socket: net.Socket, options: DecodeOptions = {}): Promise<{ roots: Map<string, unknown>; stats: TransferStats; ruled: ReadonlySet<string> }> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader()
    const decoder = new StateDecoder(options)
    const cleanup = (): void => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onError)
    }
    const fail = (error: unknown): void => {
      cleanup()
      socket.on('error', () => {}) // destroyed below; nothing more to report
      socket.destroy()
      reject(isDsuError(error) ? error : streamError(`state stream failed: ${String(error)}`, error))
    }
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk, (frame) => decoder.push(frame))
      } catch (error) {
        return fail(error)
      }
      if (decoder.done) {
        cleanup()
        resolve({ roots: decoder.finish(), stats: { ...decoder.stats }, ruled: decoder.ruled })
      }
    }
    const onEnd = (): void => {
      const received = decoder.stats
      fail(
        streamError(
          `state stream ended before DONE (${received.roots} roots, ${received.bytes} bytes decoded, ${reader.pending} bytes of an unfinished frame)`,
        ),
      )
    }
    const onError = (error: Error): void => fail(streamError(`state stream failed: ${error.message}`, error))
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onEnd)
    socket.on('error', onError)
  })
}
