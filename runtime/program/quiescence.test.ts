// The order of the program's hooks around quiescence: onPause when it starts
// (in-flight work may still run), onQuiesced once nothing runs, right before
// the capture; a throwing onQuiesced resumes the program with a named error.
import t from 'tap'
import { begin, onPause, onQuiesced, onResume, quiesce, resume } from './quiescence.js'

t.test('onPause runs first, onQuiesced only after in-flight work ends', async (t) => {
  const order: string[] = []
  const offs = [onPause(() => order.push('onPause')), onQuiesced(() => order.push('onQuiesced')), onResume(() => order.push('onResume'))]
  t.teardown(() => offs.forEach((off) => off()))
  const done = begin() // a request in flight
  const quiet = quiesce(10_000)
  order.push('quiescing')
  setImmediate(() => {
    order.push('request ends')
    done()
  })
  await quiet
  t.same(order, ['onPause', 'quiescing', 'request ends', 'onQuiesced'])
  resume()
  t.same(order.at(-1), 'onResume')
})

t.test('a throwing onQuiesced fails the quiescence with a named error and resumes', async (t) => {
  const off = onQuiesced(() => {
    throw new Error('cannot dump the cache')
  })
  await t.rejects(quiesce(10_000), { code: 'DSU_ERR_QUIESCE_TIMEOUT', message: /an onQuiesced hook threw: cannot dump the cache/ })
  off()
  await quiesce(10_000) // not left paused: a new quiescence can start
  resume()
})
