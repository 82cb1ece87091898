// A chain directory with a missing link: nothing leads from 1.0.0 to 2.0.0.
export { default } from '../v3/dsu.transform.js'
