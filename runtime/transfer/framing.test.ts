import { PassThrough } from 'node:stream'
import t from 'tap'
import { FrameReader, MAX_FRAME, writeFrame } from './framing.js'

function framed(frames: Buffer[]): Buffer {
  const out = new PassThrough()
  for (const f of frames) writeFrame(out, f)
  out.end()
  return out.read() as Buffer
}

const frames = [Buffer.from([1]), Buffer.from('hello world'), Buffer.alloc(70_000, 7), Buffer.from([2, 3])]

t.test('frames come back whole however the bytes are cut', async (t) => {
  const wire = framed(frames)
  t.equal(wire.length, frames.reduce((n, f) => n + 4 + f.length, 0))
  for (const size of [1, 3, 4, 5, 1000, 65_536, wire.length]) {
    const reader = new FrameReader()
    const got: Buffer[] = []
    for (let i = 0; i < wire.length; i += size) reader.push(wire.subarray(i, i + size), (f) => got.push(Buffer.from(f)))
    t.same(got, frames, `cut every ${size} bytes`)
    t.equal(reader.pending, 0)
  }
})

t.test('a partial frame stays pending', async (t) => {
  const reader = new FrameReader()
  const wire = framed([Buffer.from('abcdef')])
  const got: Buffer[] = []
  reader.push(wire.subarray(0, 7), (f) => got.push(f))
  t.equal(got.length, 0)
  t.equal(reader.pending, 7)
})

t.test('a bad length prefix is refused at once', async (t) => {
  for (const length of [0, MAX_FRAME + 1, 0xffff_ffff]) {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(length)
    t.throws(() => new FrameReader().push(head, () => t.fail('no frame')), {
      code: 'DSU_ERR_STATE_STREAM',
      message: `malformed state frame: bad length ${length}`,
    })
  }
})

t.test('an empty frame cannot be written', async (t) => {
  t.throws(() => writeFrame(new PassThrough(), Buffer.alloc(0)), { code: 'DSU_ERR_STATE_STREAM' })
})
