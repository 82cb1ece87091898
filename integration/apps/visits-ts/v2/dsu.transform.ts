// visits 1.0.0 -> 2.0.0, plain typed functions: a count becomes { count, upgraded },
// and back for `dsu rollback`.
interface Visit {
  count: number
  upgraded: boolean
}

export default function transform(roots: { visits: Map<string, number> }): { visits: Map<string, Visit> } {
  const visits = new Map<string, Visit>()
  for (const [name, count] of roots.visits) visits.set(name, { count, upgraded: true })
  return { visits }
}

export function reverse(roots: { visits: Map<string, Visit> }): { visits: Map<string, number> } {
  return { visits: new Map([...roots.visits].map(([name, visit]): [string, number] => [name, visit.count])) }
}
