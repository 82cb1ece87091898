// shop v1, on fastify: carts are instances of a registered class in a Map root.
// Written the plain way (state() first, then the app), so fastify's boot runs
// inside the pause when this version is upgraded to.
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
}
registerClass(Cart)

const carts = await state('carts', () => new Map())
let next = 0

const app = Fastify()
// One route for the load: each request adds to the next of 20 carts.
app.post('/add', async () => {
  const user = `u${next++ % 20}`
  const cart = carts.get(user) ?? new Cart(user)
  carts.set(user, cart)
  return { user, n: cart.add(`item${next}`), version: 1 }
})
app.get('/state', async () => ({ version: 1, items: Object.fromEntries([...carts].map(([u, c]) => [u, c.items.length])) }))
app.get('/proto', async () => ({ version: 1, ok: [...carts.values()].every((c) => c instanceof Cart && typeof c.add === 'function') }))

await app.listen({ port: 0, host: '127.0.0.1' })
console.log(`shop v1 listening on http://127.0.0.1:${app.server.address().port}`)
