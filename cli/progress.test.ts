// The phase display follows the phase the state machine says starts next:
// after spawn comes pre-copy only when it runs.
import { PassThrough } from 'node:stream'
import t from 'tap'
import { phaseDisplay } from './progress.js'

function terminal(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY: boolean; columns: number }
  stream.isTTY = true
  stream.columns = 80
  // What ora calls on a terminal to redraw its line.
  Object.assign(stream, { cursorTo: () => true, clearLine: () => true, moveCursor: () => true })
  let text = ''
  ;(stream as unknown as PassThrough).on('data', (chunk: Buffer) => (text += chunk.toString()))
  return { stream, text: () => text }
}

t.test('after spawn the spinner names pre-copy, then quiesce', async (t) => {
  const { stream, text } = terminal()
  const display = await phaseDisplay(stream)
  display.onEvent({ event: 'phase', phase: 'spawn', ms: 70, next: 'precopy' })
  await new Promise((resolve) => setImmediate(resolve))
  const afterSpawn = text().slice(text().lastIndexOf('spawn'))
  t.match(afterSpawn, /precopy/, 'pre-copy runs now')
  t.notMatch(afterSpawn.slice('spawn'.length), /spawn/, 'not "spawn" again')
  display.onEvent({ event: 'phase', phase: 'precopy', ms: 40, next: 'quiesce' })
  await new Promise((resolve) => setImmediate(resolve))
  const afterPrecopy = text().slice(text().lastIndexOf('precopy'))
  t.match(afterPrecopy, /quiesce/)
  t.notMatch(afterPrecopy, /spawn/, 'not back to "spawn" after pre-copy')
  display.end()
})

t.test('without a terminal: one line per finished phase, init among them', async (t) => {
  const { stream, text } = terminal()
  ;(stream as unknown as { isTTY: boolean }).isTTY = false
  const display = await phaseDisplay(stream)
  for (const [phase, next] of [['transform', 'init'], ['init', 'ready'], ['ready', 'commit']] as const) {
    display.onEvent({ event: 'phase', phase, ms: 1.5, next })
  }
  display.end()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(text(), '  transform     1.50 ms\n  init          1.50 ms\n  ready         1.50 ms\n')
})
