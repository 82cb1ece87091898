import t from 'tap'
import { parseRequest } from './control-protocol.js'

t.test('valid requests', async (t) => {
  t.same(parseRequest('{"cmd":"status"}'), { cmd: 'status' })
  t.same(parseRequest('{"cmd":"stop","timeoutMs":500}'), { cmd: 'stop', timeoutMs: 500 })
  t.same(parseRequest('{"cmd":"upgrade","entry":"/a.js","transformer":null,"timeoutMs":1000}'),
    { cmd: 'upgrade', entry: '/a.js', transformer: null, transformers: null, timeoutMs: 1000, version: undefined })
})

t.test('malformed requests get DSU_ERR_CONTROL_MESSAGE saying what is wrong', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['not json', /not JSON/],
    ['42', /expected an object/],
    ['{"cmd":"reboot"}', /unknown cmd "reboot"/],
    ['{"cmd":"upgrade","transformer":null,"timeoutMs":1}', /entry must be a non-empty string/],
    ['{"cmd":"upgrade","entry":"a","transformer":3,"timeoutMs":1}', /transformer must be a string or null/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"timeoutMs":-1}', /timeoutMs must be a positive number/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"timeoutMs":1,"version":7}', /version must be a string/],
    ['{"cmd":"stop","timeoutMs":"soon"}', /timeoutMs must be a positive number/],
    ['{"cmd":"stop","timeoutMs":1e12}', /timeoutMs must be a positive number of ms up to 2147483647/],
  ]
  for (const [line, message] of bad) {
    t.throws(() => parseRequest(line), { code: 'DSU_ERR_CONTROL_MESSAGE', message }, line)
  }
})
