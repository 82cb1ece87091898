// counter 1.x -> 2.x: a counter's plain number becomes { value, updates }.
export default function transform({ counters, ...rest }, { from, to }) {
  const next = new Map()
  for (const [name, value] of counters) next.set(name, { value, updates: 0 })
  return { ...rest, counters: next }
}

// counter 2.x -> 1.x, for `dsu rollback`: a record goes back to its number.
export function reverse({ counters, ...rest }) {
  const previous = new Map()
  for (const [name, record] of counters) previous.set(name, record.value)
  return { ...rest, counters: previous }
}
