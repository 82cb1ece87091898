// Phase display for `dsu upgrade`: a spinner on the running phase in a
// terminal, one plain line per finished phase otherwise (logs, CI).
import type { Ora } from 'ora'
import { PHASES } from '../runtime/supervisor/phases.js'
import type { UpgradeEvent } from '../runtime/supervisor/upgrade.js'
import { ms } from './output.js'

export interface PhaseDisplay {
  onEvent(event: UpgradeEvent): void
  /** Stops the spinner (if any) before the final line is printed. */
  end(): void
}

// ora (and its chalk, cli-cursor…) loads only for a terminal: scripts and CI,
// which read plain lines, do not pay for its import on every upgrade.
export async function phaseDisplay(stream: NodeJS.WriteStream = process.stdout): Promise<PhaseDisplay> {
  const line = (phase: string, value: number): string => `  ${phase.padEnd(10)} ${ms(value).padStart(10)}`
  let spinning = true
  // Several workers upgrade at once (atomic): one plain line per worker's phase; no spinner.
  const workerLine = (e: UpgradeEvent): string => e.event === 'phase'
    ? `  worker ${e.worker} ${line(e.phase, e.ms).trimStart()}`
    : `  worker ${e.worker} ${e.phase} failed: ${e.error.code}`
  if (!stream.isTTY) {
    return {
      onEvent: (e) => {
        if (e.worker !== undefined) stream.write(workerLine(e) + '\n')
        else if (e.event === 'phase') stream.write(line(e.phase, e.ms) + '\n')
      },
      end: () => {},
    }
  }
  const ora = (await import('ora')).default
  let spinner: Ora | null = ora({ text: PHASES[0], stream, indent: 2 }).start()
  return {
    onEvent(e) {
      if (e.worker !== undefined) {
        if (spinning) spinner?.stop()
        spinner = null
        spinning = false
        stream.write(workerLine(e) + '\n')
      } else if (e.event === 'phase') {
        spinner?.stopAndPersist({ symbol: '✔', text: line(e.phase, e.ms).trimStart() })
        // The state machine names the phase that starts: pre-copy runs only
        // for some upgrades, so "the next in PHASES" would be wrong.
        const next = e.next
        spinner = next ? ora({ text: next, stream, indent: 2 }).start() : null
      } else {
        spinner?.stopAndPersist({ symbol: '✖', text: `${e.phase} failed` })
        spinner = null
      }
    },
    end() {
      spinner?.stop()
      spinner = null
    },
  }
}
