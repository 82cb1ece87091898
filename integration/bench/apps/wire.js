// Baseline (iii), the wire limit: v8.serialize(state) bytes sent over a Unix
// socket to another process, which counts them and acks. Prints one JSON line.
//   node wire.js recv <socket>                  (prints "ready", exits after the sender closes)
//   node wire.js send <socket> <records> <runs>
import net from 'node:net'
import v8 from 'node:v8'
import { makeRecords } from './make-records.js'

const [role, socketPath, records, runs] = process.argv.slice(2)
if (role === 'recv') {
  const server = net.createServer((socket) => {
    let want = -1
    let got = 0
    let head = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      if (want < 0) {
        head = Buffer.concat([head, chunk])
        if (head.length < 8) return
        want = Number(head.readBigUInt64BE(0))
        chunk = head.subarray(8)
        head = Buffer.alloc(0)
        got = 0
      }
      got += chunk.length
      if (got >= want) {
        want = -1
        socket.write(Buffer.from([1]))
      }
    })
    socket.on('close', () => server.close())
  })
  server.listen(socketPath, () => console.log('ready'))
} else {
  const bytes = v8.serialize(makeRecords(Number(records)))
  const socket = net.connect(socketPath)
  await new Promise((resolve) => socket.once('connect', resolve))
  const acks = []
  socket.on('data', (d) => { for (let i = 0; i < d.length; i++) acks.shift()?.() })
  const out = { records: Number(records), bytes: bytes.length, ms: [] }
  for (let i = 0; i < Number(runs); i++) {
    const acked = new Promise((resolve) => acks.push(resolve))
    const head = Buffer.alloc(8)
    head.writeBigUInt64BE(BigInt(bytes.length))
    const t0 = performance.now()
    socket.write(head)
    socket.write(bytes)
    await acked
    out.ms.push(performance.now() - t0)
  }
  socket.end()
  process.stdout.write(JSON.stringify(out) + '\n')
}
