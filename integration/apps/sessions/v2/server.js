// v2: every session has a plan; the transformer adds plan "free" to the
// sessions v1 left, inside the MemoryStore's JSON strings.
import express from 'express'
import session from 'express-session'
import { state } from 'dsu'

const store = new session.MemoryStore()
store.sessions = await state('sessions', () => Object.create(null))

const app = express()
app.use(session({ secret: 'test', resave: false, saveUninitialized: false, store }))
app.post('/login/:user', (req, res) => {
  req.session.user = req.params.user
  req.session.plan = 'free'
  res.json({ user: req.session.user, plan: req.session.plan, version: 2 })
})
// What the store object arrived as: express-session made it with Object.create(null).
app.get('/store', (req, res) => res.json({ nullPrototype: Object.getPrototypeOf(store.sessions) === null }))
app.get('/me', (req, res) => res.json({ user: req.session.user ?? null, plan: req.session.plan ?? null, version: 2 }))
const server = app.listen(0, '127.0.0.1', () => console.log(`sessions v2 listening on http://127.0.0.1:${server.address().port}`))
