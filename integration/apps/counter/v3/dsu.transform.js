// counter 2.x -> 3.x: the root `counters` is now called `tallies`.
export default function transform({ counters, ...rest }) {
  return { ...rest, tallies: counters }
}
