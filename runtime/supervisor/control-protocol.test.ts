import t from 'tap'
import { parseRequest } from './control-protocol.js'

t.test('valid requests', async (t) => {
  t.same(parseRequest('{"cmd":"status"}'), { cmd: 'status' })
  t.same(parseRequest('{"cmd":"stop","timeoutMs":500}'), { cmd: 'stop', timeoutMs: 500 })
  t.same(parseRequest('{"cmd":"upgrade","entry":"/a.js","transformer":null}'),
    { cmd: 'upgrade', entry: '/a.js', transformer: null, transformers: null, deadlines: undefined, version: undefined })
  t.same(parseRequest('{"cmd":"upgrade","entry":"/a.js","transformer":null,"deadlines":{"precopy":120000,"quiesce":5000}}'),
    { cmd: 'upgrade', entry: '/a.js', transformer: null, transformers: null, deadlines: { precopy: 120000, quiesce: 5000 }, version: undefined })
  t.same(parseRequest('{"cmd":"rollback","deadlines":{"init":1000}}'), { cmd: 'rollback', deadlines: { init: 1000 } })
  t.same(parseRequest('{"cmd":"upgrade","entry":"/a.js","transformer":null,"strategy":"rolling"}'),
    { cmd: 'upgrade', entry: '/a.js', transformer: null, transformers: null, deadlines: undefined, version: undefined, strategy: 'rolling' })
  t.same(parseRequest('{"cmd":"rollback","strategy":"atomic"}'), { cmd: 'rollback', deadlines: undefined, strategy: 'atomic' })
})

t.test('malformed requests get DSU_ERR_CONTROL_MESSAGE saying what is wrong', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['not json', /not JSON/],
    ['42', /expected an object/],
    ['{"cmd":"reboot"}', /unknown cmd "reboot"/],
    ['{"cmd":"upgrade","transformer":null,"timeoutMs":1}', /entry must be a non-empty string/],
    ['{"cmd":"upgrade","entry":"a","transformer":3,"timeoutMs":1}', /transformer must be a string or null/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"deadlines":{"quiesce":-1}}', /deadlines: quiesce must be a positive duration/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"deadlines":{"warmup":1}}', /deadlines: unknown phase "warmup"/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"deadlines":{"spawn":2147483648}}', /deadlines: spawn must be at most 2147483647 ms/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"deadlines":5000}', /deadlines: must be an object/],
    ['{"cmd":"rollback","deadlines":{"init":"1s"}}', /deadlines: init must be a positive duration/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"timeoutMs":1,"version":7}', /version must be a string/],
    ['{"cmd":"stop","timeoutMs":"soon"}', /timeoutMs must be a positive number/],
    ['{"cmd":"upgrade","entry":"a","transformer":null,"strategy":"blue-green"}', /strategy must be atomic or rolling/],
    ['{"cmd":"stop","timeoutMs":1e12}', /timeoutMs must be a positive number of ms up to 2147483647/],
  ]
  for (const [line, message] of bad) {
    t.throws(() => parseRequest(line), { code: 'DSU_ERR_CONTROL_MESSAGE', message }, line)
  }
})
