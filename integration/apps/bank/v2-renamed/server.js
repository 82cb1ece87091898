// bank v2 with the class renamed and no transformer to say so: refused in
// pre-flight (DSU_ERR_CLASS_MISSING) before v1 pauses.
import http from 'node:http'
import { registerClass, state } from 'dsu'

class BankAccount {
  deposit(n) {
    this.balance += n
  }
}
registerClass(BankAccount)

const accounts = await state('accounts', () => new Map())
const server = http.createServer((req, res) => res.end(JSON.stringify({ version: 2, size: accounts.size })))
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`bank v2-renamed listening on http://127.0.0.1:${server.address().port}`)
})
