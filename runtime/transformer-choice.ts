// Which transformer an upgrade applies, as one structured value from the CLI
// to the program and into the journal (issue 11), instead of strings that
// carry their kind in a `#reverse` suffix or a trailing `/`:
//   file     a transformer module (its default export, or `export` when named)
//   chain    a directory of <from>--<to> transformers, composed per version pair
//   reverse  the inverse a transformer module declares (`dsu rollback`)
// The string form (`describeChoice`) is still what the journal's `transformer`
// column and `dsu history --json`'s `transformer` field hold, and the program's
// environment (DSU_TRANSFORMER / DSU_TRANSFORMERS) still carries the same
// strings, so an older dsu reading the journal or an older runtime in the
// program sees what it always saw. A leaf module: no imports.

export type TransformerChoice =
  | { kind: 'file'; path: string; export?: string }
  | { kind: 'chain'; path: string }
  | { kind: 'reverse'; path: string }

/** The string form: `file`, `file#name`, `file#reverse`, or `dir/` for a chain. */
export function describeChoice(choice: TransformerChoice | null | undefined): string | null {
  if (!choice) return null
  switch (choice.kind) {
    case 'chain': return choice.path.endsWith('/') ? choice.path : `${choice.path}/`
    case 'reverse': return `${choice.path}#reverse`
    case 'file': return choice.export ? `${choice.path}#${choice.export}` : choice.path
  }
}

/**
 * A file the user named, with an optional `#name` of one of its exports
 * (`#reverse` being the rollback's inverse). A `#` at the start is part of the name.
 */
export function fileChoice(text: string): TransformerChoice {
  const hash = text.lastIndexOf('#')
  if (hash <= 0) return { kind: 'file', path: text }
  const path = text.slice(0, hash)
  const name = text.slice(hash + 1)
  if (name === 'reverse') return { kind: 'reverse', path }
  return name ? { kind: 'file', path, export: name } : { kind: 'file', path }
}

/** The structured value of a string form (journal rows written before it was stored). */
export function parseChoice(text: string | null | undefined): TransformerChoice | null {
  if (!text) return null
  if (text.endsWith('/')) return { kind: 'chain', path: text.slice(0, -1) || '/' }
  return fileChoice(text)
}

/** A stored value, checked: a damaged journal cell is null, never trusted. */
export function isChoice(value: unknown): value is TransformerChoice {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  if (typeof v.path !== 'string' || v.path === '') return false
  if (v.kind === 'file') return v.export === undefined || (typeof v.export === 'string' && v.export !== '')
  return (v.kind === 'chain' || v.kind === 'reverse') && v.export === undefined
}

/** The program's environment for `choice` (names from protocol.ts, passed in to stay a leaf). */
export function choiceEnv(choice: TransformerChoice | null | undefined, names: { file: string; dir: string }): Record<string, string> {
  if (!choice) return {}
  if (choice.kind === 'chain') return { [names.dir]: choice.path }
  return { [names.file]: describeChoice(choice)! }
}

/** The choice the supervisor put in the environment (choiceEnv's inverse). */
export function choiceFromEnv(env: Record<string, string | undefined>, names: { file: string; dir: string }): TransformerChoice | null {
  const file = env[names.file]
  if (file) return fileChoice(file)
  const dir = env[names.dir]
  return dir ? { kind: 'chain', path: dir } : null
}
