// Phase display for `dsu upgrade`: a spinner on the running phase in a
// terminal, one plain line per finished phase otherwise (logs, CI).
import ora, { type Ora } from 'ora'
import type { Phase, UpgradeEvent } from '../runtime/supervisor/upgrade.js'
import { ms } from './output.js'

const PHASES: Phase[] = ['spawn', 'quiesce', 'transfer', 'transform', 'ready', 'commit']

export interface PhaseDisplay {
  onEvent(event: UpgradeEvent): void
  /** Stops the spinner (if any) before the final line is printed. */
  end(): void
}

export function phaseDisplay(stream: NodeJS.WriteStream = process.stdout): PhaseDisplay {
  const line = (phase: string, value: number): string => `  ${phase.padEnd(10)} ${ms(value).padStart(10)}`
  if (!stream.isTTY) {
    return {
      onEvent: (e) => { if (e.event === 'phase') stream.write(line(e.phase, e.ms) + '\n') },
      end: () => {},
    }
  }
  let spinner: Ora | null = ora({ text: 'spawn', stream, indent: 2 }).start()
  return {
    onEvent(e) {
      if (e.event === 'phase') {
        spinner?.stopAndPersist({ symbol: '✔', text: line(e.phase, e.ms).trimStart() })
        const next = PHASES[PHASES.indexOf(e.phase) + 1]
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
