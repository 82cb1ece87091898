import t from 'tap'
import { bindKey } from './datagrams.js'

t.test('bind keys are the same for the same arguments in every version', async (t) => {
  t.equal(bindKey('udp4', [8125]), 'udp4:*:8125')
  t.equal(bindKey('udp4', [0, '127.0.0.1', () => {}]), 'udp4:127.0.0.1:0')
  t.equal(bindKey('udp6', [{ port: 8125, address: '::1' }]), 'udp6:::1:8125')
  t.equal(bindKey('udp4', []), 'udp4:*:0')
  t.equal(bindKey('udp4', [() => {}]), 'udp4:*:0')
  t.equal(bindKey('udp4', [{ port: 0, exclusive: true }, null]), null, "send()'s implicit bind of a client socket is not intercepted")
  t.equal(bindKey('udp4', [{ fd: 5 }]), null, 'an fd is not intercepted')
  t.equal(bindKey('udp4', [{ recvStart() {} }]), null, 'a handle is not intercepted')
})
