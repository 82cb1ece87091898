import t from 'tap'
import { plainCommandArgs } from './command-args.js'
import { parseTimeouts } from './timeouts.js'

t.test('a plain dsu status is read without yargs', async (t) => {
  t.same(plainCommandArgs(['status']), { command: 'status', args: { json: false } })
  t.same(plainCommandArgs(['status', '--json']), { command: 'status', args: { json: true } })
  t.same(plainCommandArgs(['status', 'api', '--json', '--state-dir', '/tmp/s']), { command: 'status', args: { json: true, stateDir: '/tmp/s', name: 'api' } })
  t.same(plainCommandArgs(['status', '--state-dir=/tmp/s', '--name=api']), { command: 'status', args: { json: false, stateDir: '/tmp/s', name: 'api' } })
})

t.test('a plain dsu upgrade is read without yargs', async (t) => {
  t.same(plainCommandArgs(['upgrade', '--to', 'v2/server.js']), { command: 'upgrade', args: { to: 'v2/server.js', json: false } })
  t.same(plainCommandArgs(['upgrade', 'api', '--to=v2', '--json', '--transformer', 't.js', '--version-label', '2.0', '--strategy', 'rolling', '--state-dir', 's']),
    { command: 'upgrade', args: { to: 'v2', json: true, stateDir: 's', name: 'api', transformer: 't.js', versionLabel: '2.0', strategy: 'rolling' } })
  t.same(plainCommandArgs(['upgrade', '--to', 'v2', '--transformers', 'dir']), { command: 'upgrade', args: { to: 'v2', json: false, transformers: 'dir' } })
  const timed = plainCommandArgs(['upgrade', '--to', 'v2', '--timeout', '20s,precopy=2m'], parseTimeouts)
  t.equal(timed?.command, 'upgrade')
  if (timed?.command === 'upgrade') {
    t.equal(timed.args.timeout?.all, 20_000)
    t.equal(timed.args.timeout?.deadlines.precopy, 120_000)
  }
  // Without the parser (the caller did not load cli/timeouts.ts), a --timeout goes to yargs.
  t.equal(plainCommandArgs(['upgrade', '--to', 'v2', '--timeout', '20s']), null)
})

t.test('anything else is left to yargs (its help, errors and aliases)', async (t) => {
  const yargsOnly = [
    [], ['run', 'a.js'], ['history'], ['stop'], ['status', '--help'], ['status', '-h'], ['status', '--version'], ['status', 'a', 'b'],
    ['status', '--json=true'], ['status', '--no-json'], ['status', '--json', '--json'], ['status', '--stateDir', 'x'], ['status', '--state-dir'],
    ['status', '--state-dir', '--json'], ['status', '--state-dir='], ['status', '--name', 'x', '--name', 'y'], ['status', 'api', '--name', 'api'],
    ['status', '../x'], ['status', '--name', '../x'], ['status', '123'], ['status', '--'], ['status', '--limit', '3'], ['status', '--to', 'x'],
    ['upgrade'], ['upgrade', '--json'], ['upgrade', '--to'], ['upgrade', '--to', ''], ['upgrade', '--to', 'a', '--to', 'b'],
    ['upgrade', '--to', 'a', '--transformer', 't.js', '--transformers', 'd'], ['upgrade', '--to', 'a', '--timeout', 'soon'],
    ['upgrade', '--to', 'a', '--strategy', 'sideways'], ['upgrade', '--to', 'a', '--samples', '3'], ['upgrade', '--to', 'a', '-x'],
    ['upgrade', '--versionLabel', '2', '--to', 'a'],
  ]
  for (const argv of yargsOnly) t.equal(plainCommandArgs(argv, parseTimeouts), null, argv.join(' ') || '(nothing)')
})
