// shop v2, on fastify: Cart gains size(). Written the way the README's "Keep
// init out of the pause" says: routes registered and ready() awaited before
// state(), so fastify's boot runs during spawn, while v1 still serves.
import Fastify from 'fastify'
import { registerClass, state } from 'dsu'

class Cart {
  constructor(user) {
    this.user = user
    this.items = []
  }
  add(item) {
    this.items.push(item)
    return this.items.length
  }
  size() {
    return this.items.length
  }
}
registerClass(Cart)

let next = 0
const app = Fastify()
// Handlers run only after listen(), so they may name `carts`, marked below.
app.post('/add', async () => {
  const user = `u${next++ % 20}`
  const cart = carts.get(user) ?? new Cart(user)
  carts.set(user, cart)
  return { user, n: cart.add(`item${next}`), version: 2 }
})
app.get('/state', async () => ({ version: 2, items: Object.fromEntries([...carts].map(([u, c]) => [u, c.size()])) }))
app.get('/proto', async () => ({ version: 2, ok: [...carts.values()].every((c) => c instanceof Cart && typeof c.size === 'function') }))
await app.ready()

const carts = await state('carts', () => new Map())
await app.listen({ port: 0, host: '127.0.0.1' })
console.log(`shop v2 listening on http://127.0.0.1:${app.server.address().port}`)
