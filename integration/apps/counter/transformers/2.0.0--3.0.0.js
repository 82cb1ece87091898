export { default } from '../v3/dsu.transform.js'
