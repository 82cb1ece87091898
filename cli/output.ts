// How the CLI speaks: plain lines for people, one stable JSON object with --json.
import { isDsuError, toWire, catalogue } from '../runtime/errors.js'
import { exitCodeFor } from './exit-codes.js'
import { printable } from '../runtime/supervisor/output-tail.js'

export function fail(error: unknown, json: boolean): number {
  const wire = toWire(error)
  if (json) {
    process.stdout.write(JSON.stringify({ ok: false, error: wire }) + '\n')
  } else {
    process.stderr.write(`dsu: ${wire.code}: ${printable(wire.message)}\n`)
    if (isDsuError(error)) process.stderr.write(`     ${catalogue[wire.code]}\n`)
  }
  return exitCodeFor(wire.code)
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-'
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

