// Baselines on the same state as the pause benchmark, each in fresh processes:
//   (i)   stop-the-world v8.serialize + v8.deserialize in one process (apps/stw.js)
//   (ii)  JSON file restart: stop v1, write JSON, start v2 that reads it and listens
//   (iii) the wire limit: the v8-serialized bytes over a Unix socket (apps/wire.js)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import { benchApp, fmtCount, progress, waitForLine } from './common.js'

export interface BaselineResult {
  records: number
  v8Bytes: number
  serMs: number[]
  deserMs: number[]
  stwMs: number[]
  jsonBytes: number
  /** Stop sent to v1 → v2 listening (what the user waits for). */
  jsonRestartMs: number[]
  jsonWriteMs: number[]
  /** v2: read + parse + rebuild the Map. */
  jsonLoadMs: number[]
  /** v2: node start until its script ran. */
  jsonBootMs: number[]
  wireMs: number[]
}

async function stopTheWorld(records: number, runs: number): Promise<{ bytes: number; serMs: number[]; deserMs: number[]; totalMs: number[] }> {
  const r = await execa(process.execPath, [benchApp('stw.js'), String(records), String(runs)])
  return JSON.parse(r.stdout)
}

async function jsonRestartOnce(records: number, dir: string): Promise<{ totalMs: number; writeMs: number; loadMs: number; bootMs: number; bytes: number }> {
  const file = path.join(dir, `state-${records}.json`)
  const opts = { reject: false, all: true, buffer: false } as const
  const v1 = execa(process.execPath, [benchApp('json-restart.js'), 'v1', file], { ...opts, stdin: 'pipe', env: { DSU_BENCH_RECORDS: String(records) } })
  const port = Number((await waitForLine(v1, /listening on http:\/\/127\.0\.0\.1:(\d+)/))[1])
  const wrote = waitForLine(v1, /wrote (\{.*\})/)
  const t0 = performance.now()
  v1.stdin!.write('stop\n')
  const w = JSON.parse((await wrote)[1]!) as { writeMs: number; bytes: number }
  await v1
  const v2 = execa(process.execPath, [benchApp('json-restart.js'), 'v2', file, String(port)], { ...opts, stdin: 'ignore' })
  const loaded = JSON.parse((await waitForLine(v2, /loaded (\{.*\}) listening/))[1]!) as { loadMs: number; bootMs: number }
  const totalMs = performance.now() - t0
  v2.kill('SIGTERM')
  await v2
  return { totalMs, writeMs: w.writeMs, bytes: w.bytes, loadMs: loaded.loadMs, bootMs: loaded.bootMs }
}

async function wire(records: number, runs: number): Promise<{ bytes: number; ms: number[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-bench-wire-'))
  const sock = path.join(dir, 'wire.sock')
  const recv = execa(process.execPath, [benchApp('wire.js'), 'recv', sock], { reject: false, all: true, buffer: false, stdin: 'ignore' })
  try {
    await waitForLine(recv, /ready/)
    const r = await execa(process.execPath, [benchApp('wire.js'), 'send', sock, String(records), String(runs)])
    await recv
    return JSON.parse(r.stdout)
  } finally {
    if (recv.exitCode === null) recv.kill('SIGTERM')
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export async function baselinesForSize(records: number, runs: number): Promise<BaselineResult> {
  progress(`baselines: ${fmtCount(records)} records: v8 serialize + deserialize (${runs} runs)`)
  const stw = await stopTheWorld(records, runs)
  const out: BaselineResult = {
    records, v8Bytes: stw.bytes, serMs: stw.serMs, deserMs: stw.deserMs, stwMs: stw.totalMs,
    jsonBytes: 0, jsonRestartMs: [], jsonWriteMs: [], jsonLoadMs: [], jsonBootMs: [], wireMs: [],
  }
  progress(`baselines: ${fmtCount(records)} records: JSON file restart (${runs} runs)`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsu-bench-json-'))
  try {
    for (let i = 0; i < runs; i++) {
      const r = await jsonRestartOnce(records, dir)
      out.jsonRestartMs.push(r.totalMs)
      out.jsonWriteMs.push(r.writeMs)
      out.jsonLoadMs.push(r.loadMs)
      out.jsonBootMs.push(r.bootMs)
      out.jsonBytes = r.bytes
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  progress(`baselines: ${fmtCount(records)} records: Unix socket wire (${runs} runs)`)
  out.wireMs = (await wire(records, runs)).ms
  return out
}
