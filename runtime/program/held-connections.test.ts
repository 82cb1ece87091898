// Connections sent ahead are held until commit: the listed ones are adopted
// in the order listed, with what they move as (those still on their way when
// they arrive); every other one is closed (this process's copy only),
// whichever upgrade sent it.
import t from 'tap'
import { HeldConnections } from './held-connections.js'
import type { AheadAdoption } from '../protocol.js'

class FakeHandle {
  closed = 0
  constructor(readonly name: string) {}
  close(): void { this.closed++ }
}

const adopting = (into: string[]) => (handle: unknown, c: AheadAdoption): void => {
  into.push(`${(handle as FakeHandle).name}:${c.stream ? 'stream' : c.ws ? 'ws' : 'plain'}`)
}

t.test('commit adopts the listed handles in order and closes the others', async (t) => {
  const adopted: string[] = []
  const held = new HeldConnections(adopting(adopted))
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new FakeHandle(n))
  held.hold({ tag: 'up1', id: 1 }, a)
  held.hold({ tag: 'up1', id: 2 }, b)
  held.hold({ tag: 'up1', id: 3 }, c)
  held.hold({ tag: 'old', id: 2 }, d) // another upgrade's, with the same id
  t.equal(held.size, 4)
  const n = held.adopt('up1', [
    { key: 'k', id: 3, stream: { data: { lastId: 7 }, chunked: true } },
    { key: 'k', id: 1, ws: { protocol: '', data: null } },
  ])
  t.equal(n, 2)
  t.same(adopted, ['c:stream', 'a:ws'], 'adopted as listed, in that order')
  t.same([a!.closed, b!.closed, c!.closed, d!.closed], [0, 1, 0, 1], 'the unlisted ones are closed, once')
  t.equal(held.size, 0)
})

t.test('listed connections still on their way are adopted as they arrive; unlisted ones are closed', async (t) => {
  const adopted: string[] = []
  const held = new HeldConnections(adopting(adopted))
  const [a, b, c] = ['a', 'b', 'c'].map((n) => new FakeHandle(n))
  held.hold({ tag: 'up', id: 1 }, a)
  t.equal(held.adopt('up', [{ key: 'k', id: 1 }, { key: 'k', id: 3, stream: { data: 1, chunked: false } }]), 1)
  held.hold({ tag: 'up', id: 2 }, b) // closed in the old version after it was sent: not listed
  held.hold({ tag: 'up', id: 3 }, c)
  t.same(adopted, ['a:plain', 'c:stream'])
  t.same([a!.closed, b!.closed, c!.closed], [0, 1, 0])
  t.equal(held.size, 0, 'nothing held after the commit')
})

t.test('an empty list (the old version died at commit) closes every held handle', async (t) => {
  const held = new HeldConnections(() => t.fail('nothing to adopt'))
  const handles = [1, 2, 3].map((n) => new FakeHandle(String(n)))
  handles.forEach((h, i) => held.hold({ tag: 'x', id: i }, h))
  t.equal(held.adopt('x', []), 0)
  t.same(handles.map((h) => h.closed), [1, 1, 1])
})

t.test('the same id twice keeps the last handle and closes the first', async (t) => {
  const adopted: string[] = []
  const held = new HeldConnections(adopting(adopted))
  const first = new FakeHandle('first')
  const second = new FakeHandle('second')
  held.hold({ tag: 'x', id: 1 }, first)
  held.hold({ tag: 'x', id: 1 }, second)
  held.adopt('x', [{ key: 'k', id: 1 }])
  t.same(adopted, ['second:plain'])
  t.equal(first.closed, 1)
  t.equal(second.closed, 0)
})
