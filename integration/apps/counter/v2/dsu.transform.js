// counter 1.x -> 2.x: a counter's plain number becomes { value, updates }.
export default function transform({ counters, ...rest }, { from, to }) {
  const next = new Map()
  for (const [name, value] of counters) next.set(name, { value, updates: 0 })
  return { ...rest, counters: next }
}
