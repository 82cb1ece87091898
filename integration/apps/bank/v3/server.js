// bank v3: the class is renamed BankAccount (the transformer maps the old
// name) and gains `statement()`.
import http from 'node:http'
import { registerClass, state } from 'dsu'

export class BankAccount {
  constructor(id) {
    this.id = id
    this.balance = 0
    this.deposits = 0
  }
  deposit(n) {
    this.balance += n
    this.deposits += 1
  }
  audit() {
    return { id: this.id, balance: this.balance, deposits: this.deposits }
  }
  statement() {
    return `${this.id}: ${this.balance} in ${this.deposits} deposits`
  }
}
registerClass(BankAccount)

const accounts = await state('accounts', () => new Map(Array.from({ length: 10 }, (_, i) => [`a${i}`, new BankAccount(`a${i}`)])), { precopy: Boolean(process.env.BANK_PRECOPY) })
let next = 0

const server = http.createServer((req, res) => {
  const [, action] = req.url.split('/')
  if (req.method === 'POST' && action === 'deposit') {
    const account = accounts.get(`a${next++ % accounts.size}`)
    account.deposit(1)
    res.end(JSON.stringify({ version: 3, id: account.id, balance: account.balance }))
  } else if (action === 'state') {
    res.end(JSON.stringify({ version: 3, balances: Object.fromEntries([...accounts].map(([k, a]) => [k, a.balance])), audits: [...accounts.values()].map((a) => a.audit()) }))
  } else if (action === 'proto') {
    res.end(JSON.stringify({ version: 3, ok: [...accounts.values()].every((a) => a instanceof BankAccount && typeof a.statement === 'function') }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`bank v3 listening on http://127.0.0.1:${server.address().port}`)
})
