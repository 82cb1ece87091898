// `--node-arg X` takes exactly one value, even one that starts with dashes
// (`--node-arg --import=tsx`), before or after the entry. yargs would read
// `--import=tsx` as an option of its own, so before parsing, each
// `--node-arg X` becomes `--node-arg=X`, the form yargs reads as one value.

const NAMES = new Set(['--node-arg', '--nodeArg'])

export function joinNodeArgs(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    // After `--` everything is positional.
    if (arg === '--') return [...out, ...argv.slice(i)]
    if (NAMES.has(arg) && i + 1 < argv.length) out.push(`--node-arg=${argv[++i]}`)
    else out.push(arg)
  }
  return out
}

/**
 * The --node-arg values yargs parsed (one string, or several), as a list. No
 * `nargs` on the option: joinNodeArgs already pairs each flag with its value,
 * and yargs' nargs check would throw past the CLI's error handling on a
 * trailing --node-arg. An empty value (`--node-arg=`) adds no flag.
 */
export const nodeArgList = (value: string | string[]): string[] => [value].flat().filter((arg) => arg !== '')
