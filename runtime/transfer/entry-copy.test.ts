// The pre-copy's key index: many bounded maps that act as one.
import t from 'tap'
import { SlotIndex } from './entry-copy.js'

t.test('SlotIndex finds every key across its maps, and only those', async (t) => {
  const index = new SlotIndex()
  // More keys than one map holds (2^17), of the kinds a Map root's keys are.
  const n = 300_000
  for (let i = 0; i < n; i++) index.set(i % 3 === 0 ? i : `k${i}`, i)
  index.set(NaN, n)
  t.equal(index.size, n + 1)
  let wrong = 0
  for (let i = 0; i < n; i++) if (index.get(i % 3 === 0 ? i : `k${i}`) !== i) wrong++
  t.equal(wrong, 0, 'every key gives its slot')
  t.equal(index.get(NaN), n, 'NaN, as a Map finds it')
  t.equal(index.get(-0), 0, '0 and -0 are one key, as in a Map')
  t.equal(index.get('k0'), undefined, 'a key never set (0 was set as a number)')
  t.notOk(index.has(`k${n}`))
  t.ok(index.has(`k${n - 1}`), 'a key in the last map')
  t.ok(index.has('k1'), 'a key in the first map')
})
