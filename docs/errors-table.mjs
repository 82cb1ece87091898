// Rewrites the README's error table from the catalogue (runtime/errors.ts):
//   node docs/errors-table.mjs   (after `make build`)
// runtime/errors.test.ts fails when the two drift apart.
import fs from 'node:fs'
import { catalogue } from '../dist/runtime/errors.js'

const rows = Object.entries(catalogue).map(([code, hint]) => `| \`${code}\` | ${hint} |`).join('\n')
const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const table = `<!-- errors:start -->\n| code | what to do |\n|---|---|\n${rows}\n<!-- errors:end -->`
fs.writeFileSync(new URL('../README.md', import.meta.url), readme.replace(/<!-- errors:start -->[\s\S]*<!-- errors:end -->/, table))
