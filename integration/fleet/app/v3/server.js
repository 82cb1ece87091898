// fleet app v3: every record carries the host's region, read from the host's
// own config (shared/config.json beside the releases). A host whose config
// lacks it fails v3's init: dsu rolls that host back to v2 with its state.
import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'
import { state } from 'dsu'

const counters = await state('counters', () => new Map())
const configFile = path.resolve(process.cwd(), 'shared/config.json')
const { region } = JSON.parse(fs.readFileSync(configFile, 'utf8'))
if (typeof region !== 'string') throw new Error(`${configFile}: "region" is missing; v3 needs it`)
const valuesOf = () => Object.fromEntries([...counters].map(([k, r]) => [k, r.value]))

const server = http.createServer((req, res) => {
  const [, action, name] = req.url.split('/')
  if (req.method === 'POST' && action === 'inc' && name) {
    const record = counters.get(name) ?? { value: 0, updates: 0, region }
    record.value += 1
    record.updates += 1
    counters.set(name, record)
    res.end(JSON.stringify({ name, value: record.value, version: 3, region }))
  } else if (action === 'state' || action === 'health') {
    res.end(JSON.stringify({ version: 3, region, counters: valuesOf() }))
  } else {
    res.statusCode = 404
    res.end('not found\n')
  }
})
server.listen(Number(process.env.PORT ?? 8080), process.env.BIND ?? '0.0.0.0', () => {
  console.log(`fleet app v3 listening on ${process.env.BIND ?? '0.0.0.0'}:${server.address().port}`)
})
