// The stderr tail kept for failed upgrades: both bounds, lines split across
// chunks, characters split across chunks and cuts, and what is safe to print.
import t from 'tap'
import { OutputTail, printable } from './output-tail.js'

t.test('keeps the last maxLines lines', async (t) => {
  const tail = new OutputTail(3, 4096)
  for (let i = 1; i <= 10; i++) tail.push(`line ${i}\n`)
  t.equal(tail.text(), 'line 8\nline 9\nline 10')
})

t.test('a partial last line counts as a line and is completed by the next chunk', async (t) => {
  const tail = new OutputTail(2, 4096)
  tail.push('one\ntwo\nthr')
  t.equal(tail.text(), 'two\nthr')
  tail.push('ee\nfour')
  t.equal(tail.text(), 'three\nfour')
  tail.push('\n')
  t.equal(tail.text(), 'three\nfour', 'a final newline does not start another line')
})

t.test('one chunk with many lines is cut to the last lines', async (t) => {
  const tail = new OutputTail(2, 4096)
  tail.push('a\nb\nc\nd\n')
  t.equal(tail.text(), 'c\nd')
})

t.test('keeps at most maxBytes, the tail', async (t) => {
  const tail = new OutputTail(20, 16)
  tail.push('0123456789')
  tail.push('abcdefghij')
  t.equal(tail.text(), '456789abcdefghij')
  tail.push('x'.repeat(1_000_000) + 'END')
  t.equal(tail.text(), 'x'.repeat(13) + 'END', 'a huge chunk leaves only its end')
  t.ok(Buffer.byteLength(tail.text()) <= 16)
})

t.test('a long single line keeps its end within the byte bound', async (t) => {
  const tail = new OutputTail(20, 8)
  tail.push('first\n' + 'y'.repeat(100) + '\n')
  t.equal(tail.text(), 'y'.repeat(7), 'seven bytes and the newline')
})

t.test('a character split across chunks arrives whole', async (t) => {
  const tail = new OutputTail(20, 4096)
  const bytes = Buffer.from('erreur: donnée €\n', 'utf8')
  const euro = bytes.indexOf(0xe2)
  tail.push(bytes.subarray(0, euro + 1))
  t.equal(tail.text(), 'erreur: donnée ', 'an incomplete character at the end is held back, not mangled')
  tail.push(bytes.subarray(euro + 1))
  t.equal(tail.text(), 'erreur: donnée €')
})

t.test('a cut by the byte bound inside a character drops its remains', async (t) => {
  // '€' is 3 bytes; a 4-byte bound over '€€' cuts the first one after its first byte.
  const tail = new OutputTail(20, 4)
  tail.push('€€')
  t.equal(tail.text(), '€')
  t.notMatch(tail.text(), /\ufffd/)
  const big = new OutputTail(20, 10)
  big.push('€'.repeat(1000))
  t.equal(big.text(), '€€€', 'also when a large chunk is cut before it is kept')
})

t.test('empty until something is written', async (t) => {
  t.equal(new OutputTail().text(), '')
})

t.test('printable strips ANSI sequences and escapes other control characters', async (t) => {
  t.equal(printable('\x1b[31mError:\x1b[0m boom'), 'Error: boom', 'colours removed')
  t.equal(printable('\x1b]0;title\x07after'), 'after', 'OSC title sequence removed')
  t.equal(printable('a\x1b[2Jb\x1b[1;1Hc'), 'abc', 'cursor and clear sequences removed')
  t.equal(printable('bell\x07 nul\x00 bs\x08 del\x7f c1\x9b'), 'bell\\x07 nul\\x00 bs\\x08 del\\x7f c1\\x9b')
  t.equal(printable('x\u202egnp.exe'), 'x\\u202egnp.exe', 'bidirectional override escaped')
  t.equal(printable('one\r\ntwo\tthree\rfour'), 'one\ntwo\tthree\\x0dfour', 'CRLF is a line end; a lone CR is shown')
  t.equal(printable('plain text, ünïcödé'), 'plain text, ünïcödé')
})
