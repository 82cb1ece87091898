import t from 'tap'
import { track, untracked } from './write-tracker.js'

t.test('reads, writes and deletes mark their key; handing out every value marks all', async (t) => {
  const m = new Map<string, { n: number }>([['a', { n: 1 }], ['b', { n: 2 }], ['c', { n: 3 }]])
  const tracker = track(m)
  m.get('a')!.n++
  m.set('d', { n: 4 })
  m.delete('b')
  t.ok(m.has('c'))
  t.equal(m.size, 3)
  t.same([...tracker.dirty].sort(), ['a', 'b', 'd'], 'has() and size hand out nothing')
  t.equal(tracker.all, false)
  const round = tracker.take()
  t.same([...round.keys].sort(), ['a', 'b', 'd'])
  t.equal(tracker.dirty.size, 0, 'a new round starts empty')
  for (const _ of m.values()) break
  t.equal(tracker.all, true, 'values() hands out every value')
  tracker.take()
  m.forEach(() => {})
  t.equal(tracker.take().all, true, 'forEach too')
  ;[...m]
  t.equal(tracker.take().all, true, 'and iteration')
  m.clear()
  t.same([...tracker.take().keys].sort(), ['a', 'c', 'd'], 'clear() marks every key it removes')
})

t.test('the sender reads untracked; untrack leaves a plain Map', async (t) => {
  const m = new Map([[1, 'x']])
  const tracker = track(m)
  untracked(() => [...m.entries(), m.get(1)])
  t.equal(tracker.dirty.size, 0)
  t.equal(tracker.all, false)
  tracker.untrack()
  t.notOk(Object.hasOwn(m, 'get'), 'no own methods left')
  t.equal(m.get(1), 'x')
})
