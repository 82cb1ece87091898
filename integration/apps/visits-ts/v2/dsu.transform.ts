// visits 1.0.0 -> 2.0.0, a plain typed function: a count becomes { count, upgraded }.
interface Visit {
  count: number
  upgraded: boolean
}

export default function transform(roots: { visits: Map<string, number> }): { visits: Map<string, Visit> } {
  const visits = new Map<string, Visit>()
  for (const [name, count] of roots.visits) visits.set(name, { count, upgraded: true })
  return { visits }
}
