// The last few lines a program wrote to stderr, kept so that a failed upgrade
// can say why the new version died (its stack trace) to the pipeline that ran
// `dsu upgrade`, not only to the supervisor's terminal. Bounded twice — at most
// `maxLines` lines and at most `maxBytes` bytes, keeping the tail — so a
// program that writes without end costs a few KB, never more.
//
// Bytes, not strings, are kept: a chunk may end inside a UTF-8 character, and
// the next chunk completes it. A cut at the byte bound may land inside one, so
// the leading continuation bytes it leaves are dropped.

export const TAIL_LINES = 20
export const TAIL_BYTES = 4096

const NEWLINE = 0x0a

export class OutputTail {
  private tail: Buffer = Buffer.alloc(0)

  constructor(readonly maxLines = TAIL_LINES, readonly maxBytes = TAIL_BYTES) {}

  push(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    // Only the chunk's last maxBytes can survive; the rest is not even copied.
    // A few bytes more, so a cut chunk is always cut again below, where a
    // character split in two is noticed.
    const keep = this.maxBytes + 4
    const joined = Buffer.concat([this.tail, bytes.length > keep ? bytes.subarray(bytes.length - keep) : bytes])
    // A copy, so the kept bytes do not pin a larger joined buffer.
    this.tail = Buffer.from(this.keepLastLines(this.keepLastBytes(joined)))
  }

  /**
   * The kept output as text, without its final newline. A character still
   * incomplete at the end (the program is mid-write) is left out, not mangled.
   */
  text(): string {
    const text = new TextDecoder('utf-8').decode(this.tail, { stream: true })
    return text.endsWith('\n') ? text.slice(0, -1) : text
  }

  private keepLastBytes(bytes: Buffer): Buffer {
    if (bytes.length <= this.maxBytes) return bytes
    let start = bytes.length - this.maxBytes
    // Skip the rest of a character cut in two (UTF-8 continuation bytes are 10xxxxxx).
    for (let i = 0; i < 3 && start < bytes.length && (bytes[start]! & 0xc0) === 0x80; i++) start++
    return bytes.subarray(start)
  }

  private keepLastLines(bytes: Buffer): Buffer {
    // A final newline ends the last line; it does not start another one.
    let lines = 0
    for (let i = bytes.length - 2; i >= 0; i--) {
      if (bytes[i] !== NEWLINE) continue
      if (++lines === this.maxLines) return bytes.subarray(i + 1)
    }
    return bytes
  }
}

// CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), and two-byte escapes (ESC + one of @-_).
// eslint-disable-next-line no-control-regex
const ANSI_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])/g
// C0 and C1 controls but newline and tab, DEL, and the bidirectional overrides
// that can make a terminal show text other than what is there.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g

/**
 * A program's output made safe to print on the operator's terminal: colour and
 * cursor sequences removed, other control characters shown escaped (`\x07`),
 * CRLF line ends as newlines. Newlines and tabs are kept.
 */
export function printable(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(ANSI_SEQUENCE, '')
    .replace(CONTROL, (c) => {
      const code = c.charCodeAt(0)
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
    })
}

/**
 * A failed new version's output as `dsu upgrade` and `dsu history` show it,
 * under the line that names the failure: a heading, then the lines, printable
 * (they come from a program, or from a file), each ending in a newline.
 */
export function outputBlock(output: string, indent: string): string {
  const lines = printable(output).split('\n')
  const count = lines.length === 1 ? '1 line' : `${lines.length} lines`
  return `${indent}new version's output (last ${count}):\n${lines.map((line) => `${indent}  ${line}`.trimEnd() + '\n').join('')}`
}
