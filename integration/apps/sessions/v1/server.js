// express + express-session with its MemoryStore, whose sessions object (sid →
// JSON string) is the marked state: logins survive upgrades.
//   POST /login/:user  -> sets the session's user;  GET /me -> the session
import express from 'express'
import session from 'express-session'
import { state } from 'dsu'

const store = new session.MemoryStore()
store.sessions = await state('sessions', () => Object.create(null))

const app = express()
app.use(session({ secret: 'test', resave: false, saveUninitialized: false, store }))
app.post('/login/:user', (req, res) => {
  req.session.user = req.params.user
  res.json({ user: req.session.user, version: 1 })
})
app.get('/me', (req, res) => res.json({ user: req.session.user ?? null, version: 1 }))
const server = app.listen(0, '127.0.0.1', () => console.log(`sessions v1 listening on http://127.0.0.1:${server.address().port}`))
