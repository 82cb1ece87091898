import t from 'tap'
import { joinNodeArgs, nodeArgList } from './node-arg.js'

t.test('--node-arg X becomes --node-arg=X, whatever X starts with, wherever it stands', async (t) => {
  t.same(joinNodeArgs(['run', '--node-arg', '--import=tsx', './server.ts']), ['run', '--node-arg=--import=tsx', './server.ts'])
  t.same(joinNodeArgs(['run', './server.ts', '--node-arg', '--import=tsx']), ['run', './server.ts', '--node-arg=--import=tsx'])
  t.same(joinNodeArgs(['run', '--nodeArg', '-r', 'x']), ['run', '--node-arg=-r', 'x'])
  t.same(
    joinNodeArgs(['run', '--node-arg', '--import', '--node-arg', 'tsx', 'server.ts', '--node-arg=--max-old-space-size=256']),
    ['run', '--node-arg=--import', '--node-arg=tsx', 'server.ts', '--node-arg=--max-old-space-size=256'],
  )
})

t.test('what is not a --node-arg X pair passes through', async (t) => {
  t.same(joinNodeArgs(['run', '--node-arg=--import=tsx', 'server.ts']), ['run', '--node-arg=--import=tsx', 'server.ts'])
  t.same(joinNodeArgs(['run', 'server.ts', '--node-arg']), ['run', 'server.ts', '--node-arg'], 'a missing value is left for yargs to report')
  t.same(joinNodeArgs(['run', 'server.ts', '--', '--node-arg', 'x']), ['run', 'server.ts', '--', '--node-arg', 'x'], 'nothing after --')
  t.same(joinNodeArgs(['upgrade', '--to', 'v2']), ['upgrade', '--to', 'v2'])
})

t.test('the parsed values, always a list', async (t) => {
  t.same(nodeArgList('--import=tsx'), ['--import=tsx'])
  t.same(nodeArgList(['--import=tsx', '--max-old-space-size=256']), ['--import=tsx', '--max-old-space-size=256'])
  t.same(nodeArgList([]), [])
  t.same(nodeArgList(['', '--inspect']), ['--inspect'], 'an empty --node-arg= adds nothing')
})
