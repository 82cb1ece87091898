// The benchmark's record shape, shared by the program and the baseline. With
// `asClass`, each record is an instance of BenchRecord (same fields, same
// order) instead of a plain object, for the class-instance row.
export class BenchRecord {
  constructor(id, name, balance, tags, createdAt, seen) {
    this.id = id
    this.name = name
    this.balance = balance
    this.tags = tags
    this.createdAt = createdAt
    this.seen = seen
  }
  deposit(n) {
    this.balance += n
  }
}

export function makeRecords(count, asClass = false) {
  const records = new Map()
  const t0 = Date.UTC(2026, 0, 1)
  for (let i = 0; i < count; i++) {
    const tags = ['a', 'b', `t${i % 7}`]
    const createdAt = new Date(t0 + i * 1000)
    const seen = new Set([i, i + 1])
    records.set(`r${i}`, asClass
      ? new BenchRecord(i, `user-${i}`, i * 1.25, tags, createdAt, seen)
      : { id: i, name: `user-${i}`, balance: i * 1.25, tags, createdAt, seen })
  }
  return records
}
