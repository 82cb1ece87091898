// The benchmark's record shape, shared by the program and the baseline.
export function makeRecords(count) {
  const records = new Map()
  const t0 = Date.UTC(2026, 0, 1)
  for (let i = 0; i < count; i++) {
    records.set(`r${i}`, {
      id: i, name: `user-${i}`, balance: i * 1.25, tags: ['a', 'b', `t${i % 7}`],
      createdAt: new Date(t0 + i * 1000), seen: new Set([i, i + 1]),
    })
  }
  return records
}
