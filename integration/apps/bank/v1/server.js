// bank v1: accounts are instances of `class Account`, in a Map root. The class
// is registered, so an upgrade carries them and they arrive with the new
// version's methods.
import http from 'node:http'
import { registerClass, state } from 'dsu'

export class Account {
  constructor(id) {
    this.id = id
    this.balance = 0
  }
  deposit(n) {
    this.balance += n
  }
}
// BANK_UNREGISTERED=1 leaves the class out: the refusal a user meets first.
// BANK_PRECOPY=1 (every version) streams the accounts while serving: PATCH frames carry instances.
if (!process.env.BANK_UNREGISTERED) registerClass(Account)

const accounts = await state('accounts', () => new Map(Array.from({ length: 10 }, (_, i) => [`a${i}`, new Account(`a${i}`)])), { precopy: Boolean(process.env.BANK_PRECOPY) })
let next = 0

const server = http.createServer((req, res) => {
  const [, action, id] = req.url.split('/')
  if (req.method === 'POST' && action === 'deposit') {
    const account = accounts.get(`a${next++ % accounts.size}`)
    account.deposit(1)
    res.end(JSON.stringify({ version: 1, id: account.id, balance: account.balance }))
  } else if (req.method === 'POST' && action === 'listener') {
    // A closure on an account: it cannot travel, and the upgrade must say where it is.
    if (id === 'on') accounts.get('a0').onChange = () => {}
    else delete accounts.get('a0').onChange
    res.end('{}')
  } else if (action === 'state') {
    res.end(JSON.stringify({ version: 1, balances: Object.fromEntries([...accounts].map(([k, a]) => [k, a.balance])) }))
  } else if (action === 'proto') {
    res.end(JSON.stringify({ version: 1, ok: [...accounts.values()].every((a) => a instanceof Account && typeof a.deposit === 'function') }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`bank v1 listening on http://127.0.0.1:${server.address().port}`)
})
