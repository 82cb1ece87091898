// Which transformer a new version applies, loaded at boot (before the running
// version pauses) so a broken module, a missing link in a chain or a
// pre-flight mistake refuses the upgrade while the old version still serves.
import { pathToFileURL } from 'node:url'
import { DsuError } from '../errors.js'
import { ENV_FROM, ENV_MANIFEST, ENV_TRANSFORMER, ENV_TRANSFORMERS, ENV_VERSION, type RootManifest } from '../protocol.js'
import { assertPreflight, classRenames, loadChain, loadTransformer, metaOf, registrationProblems, type Transformer } from '../../transformers/index.js'
import { registered } from '../transfer/registry.js'
import { choiceFromEnv, type TransformerChoice } from '../transformer-choice.js'
export { entryRulesOf } from '../../transformers/compile.js'

export async function transformerFromEnv(env = process.env): Promise<Transformer | null> {
  const from = env[ENV_FROM] ?? ''
  const to = env[ENV_VERSION] ?? ''
  const transformer = await loadChoice(choiceFromEnv(env, { file: ENV_TRANSFORMER, dir: ENV_TRANSFORMERS }), { from, to })
  const manifest = env[ENV_MANIFEST]
  if (manifest && from) {
    const roots = JSON.parse(manifest) as RootManifest[]
    // Only a declared transformer says which versions and roots it expects.
    if (transformer && metaOf(transformer)) assertPreflight(transformer, { from, to, roots })
    // Every class and type the old roots hold must have somewhere to go in this version.
    const [problem, ...more] = registrationProblems(roots, classRenames(transformer), registered(), { from, to })
    if (problem) {
      const rest = more.length ? `\n${more.map((p) => `${p.code}: ${p.message}`).join('\n')}` : ''
      throw new DsuError(problem.code, problem.message + rest)
    }
  }
  return transformer
}

/** The transformer `choice` names, for the version pair (a chain composes its links for it). */
export async function loadChoice(choice: TransformerChoice | null, versions: { from: string; to: string }): Promise<Transformer | null> {
  if (!choice) return null
  switch (choice.kind) {
    case 'chain': return loadChain(choice.path, versions.from, versions.to)
    case 'reverse': return loadReverse(choice.path)
    case 'file': return choice.export ? loadExport(choice.path, choice.export) : loadTransformer(choice.path)
  }
}

/** The old → new class names the successor's decoder applies. */
export function renamesOf(transformer: unknown): Map<string, string> {
  return classRenames(transformer)
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  try {
    return await import(pathToFileURL(file).href)
  } catch (cause) {
    throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `cannot load transformer ${file}: ${(cause as Error)?.message ?? cause}`, { cause })
  }
}

/** `file#name`: the module's export `name`, a transformer function. */
async function loadExport(file: string, name: string): Promise<Transformer> {
  const mod = await importModule(file)
  const fn = Object.hasOwn(mod, name) ? mod[name] : undefined
  if (typeof fn !== 'function') throw new DsuError('DSU_ERR_TRANSFORMER_INVALID', `transformer ${file} has no exported function ${name} (found ${typeof fn})`)
  return fn as Transformer
}

/** The inverse (B → A) a transformer module declares: `reverse`/`inverse` export, or the DSL's meta.inverse. */
async function loadReverse(file: string): Promise<Transformer> {
  const mod = await importModule(file)
  const declared = mod.reverse ?? mod.inverse ?? metaOf(mod.default)?.inverse
  if (typeof declared !== 'function') {
    throw new DsuError('DSU_ERR_NO_REVERSE_TRANSFORMER', `rolling back needs a reverse transformer: ${file} exports no \`reverse\` (and there is no dsu.reverse.js beside the current entry)`)
  }
  return declared as Transformer
}
