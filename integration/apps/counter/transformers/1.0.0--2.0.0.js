// The chain directory for `dsu upgrade --transformers`: one module per version pair.
export { default } from '../v2/dsu.transform.js'
