import t from 'tap'
import { listenKey } from './listeners.js'

t.test('listen keys are the same for the same arguments in every version', async (t) => {
  t.equal(listenKey([8080]), 'tcp:*:8080')
  t.equal(listenKey(['8080']), 'tcp:*:8080')
  t.equal(listenKey([0, '127.0.0.1']), 'tcp:127.0.0.1:0')
  t.equal(listenKey([0, '127.0.0.1', () => {}]), 'tcp:127.0.0.1:0')
  t.equal(listenKey([]), 'tcp:*:0')
  t.equal(listenKey([() => {}]), 'tcp:*:0')
  t.equal(listenKey([{ port: 3000, host: '::1' }]), 'tcp:::1:3000')
  t.equal(listenKey(['/tmp/app.sock']), 'pipe:/tmp/app.sock')
  t.equal(listenKey([{ path: '/tmp/app.sock' }]), 'pipe:/tmp/app.sock')
  t.equal(listenKey([{ fd: 3 }]), null, 'an fd is not intercepted')
  t.equal(listenKey([{ _handle: {} }]), null, 'a handle is not intercepted')
})
