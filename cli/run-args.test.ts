import t from 'tap'
import { plainRunArgs } from './run-args.js'
import { joinNodeArgs } from './node-arg.js'

// What yargs gives `run` for the same command line (its defaults in cli/main.ts).
const defaults = { stopTimeout: 10_000, nodeArg: [], restart: 'no', restartDelay: 100, maxRestarts: 5, keepCheckpoints: 5, workers: 1 }

t.test('a plain dsu run is read without yargs, with yargs\' defaults', async (t) => {
  t.same(plainRunArgs(['run', 'server.js']), { entry: 'server.js', ...defaults })
  t.same(plainRunArgs(['run', '--state-dir', '/tmp/s', 'server.js', '--name=api']), { entry: 'server.js', ...defaults, stateDir: '/tmp/s', name: 'api' })
  t.same(plainRunArgs(joinNodeArgs(['run', '--node-arg', '--import=tsx', 'server.ts', '--node-arg', '--max-old-space-size=256', '--node-arg='])),
    { entry: 'server.ts', ...defaults, nodeArg: ['--import=tsx', '--max-old-space-size=256'] }, 'repeatable, an empty one adds nothing')
  t.same(plainRunArgs(['run', 'x.js', '--stop-timeout', '2500', '--restart', 'on-failure', '--restart-delay=50', '--max-restarts', '3',
    '--checkpoint-every', '30s', '--keep-checkpoints', '2', '--restore', 'latest', '--version-label', '2.0.0']),
  { entry: 'x.js', ...defaults, stopTimeout: 2500, restart: 'on-failure', restartDelay: 50, maxRestarts: 3, checkpointEvery: 30_000, keepCheckpoints: 2, restore: 'latest', versionLabel: '2.0.0' })
  const withTimeout = plainRunArgs(['run', 'x.js', '--timeout', '20s,precopy=2m'])
  t.equal(withTimeout?.timeout?.all, 20_000)
  t.equal(withTimeout?.timeout?.deadlines.precopy, 120_000)
})

t.test('anything else is left to yargs (its help, errors and aliases)', async (t) => {
  const yargsOnly = [
    ['status'], ['run'], ['run', '--help'], ['run', 'a.js', '--version'], ['run', 'a.js', 'b.js'], ['run', 'a.js', '--json'],
    ['run', 'a.js', '--stateDir', 'x'], ['run', 'a.js', '-h'], ['run', 'a.js', '--'], ['run', 'a.js', '--state-dir'],
    ['run', 'a.js', '--state-dir', '--name'], ['run', 'a.js', '--state-dir='], ['run', 'a.js', '--name', 'x', '--name', 'y'],
    ['run', 'a.js', '--name', '../x'], ['run', 'a.js', '--timeout', 'soon'], ['run', 'a.js', '--stop-timeout', '0'],
    ['run', 'a.js', '--stop-timeout', '1e3'], ['run', 'a.js', '--stop-timeout', '99999999999'], ['run', 'a.js', '--max-restarts', '1.5'],
    ['run', 'a.js', '--keep-checkpoints', '0'], ['run', 'a.js', '--restart', 'sometimes'], ['run', 'a.js', '--checkpoint-every', 'often'],
    ['run', ''],
    // --workers changes --restart's default: yargs reads it.
    ['run', 'a.js', '--workers', '2'], ['run', 'a.js', '--workers=auto'],
  ]
  for (const argv of yargsOnly) t.equal(plainRunArgs(argv), null, argv.join(' '))
})
