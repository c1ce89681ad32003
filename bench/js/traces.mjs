#!/usr/bin/env node
// yjs side of the trace benchmarks: the same phases as crdt/trace_bench_test.go.
//
//   node bench/js/traces.mjs [--traces DIR] [--runs N] [--json]
//
// For every <name>.json.gz in DIR (default: $QUIRE_TRACES, else
// crdt/testdata/traces):
//   replay  every transaction's patches applied as one local transaction on a Y.Text
//   apply   the per-transaction v1 updates of a replay, applied in order to a fresh Y.Doc
//   load    Y.applyUpdate of the final full-state update into a fresh Y.Doc
//   encode  Y.encodeStateAsUpdate of the replayed doc
//   heap    live heap of the doc after replay (gc'd heapUsed after minus before)
// Each phase runs N times (default 5); the table shows the median wall time
// (the JSON also has the minimum and the median process CPU time). The final
// text must equal endContent in every phase. --json prints the results as
// JSON on stdout (the table then goes to stderr).
//
// The script re-executes itself with --expose-gc when started without it.

import * as Y from 'yjs'
import { readFileSync, readdirSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '../..')

if (typeof globalThis.gc !== 'function') {
  const res = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(res.status ?? 1)
}

const usage = () => {
  process.stderr.write('usage: node bench/js/traces.mjs [--traces DIR] [--runs N] [--json]\n')
  process.exit(2)
}

const args = process.argv.slice(2)
const opts = { dir: process.env.QUIRE_TRACES || join(REPO, 'crdt/testdata/traces'), runs: 5, json: false }
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--traces') opts.dir = args[++i] ?? usage()
  else if (a.startsWith('--traces=')) opts.dir = a.slice(9)
  else if (a === '--runs') opts.runs = Number(args[++i] ?? usage())
  else if (a.startsWith('--runs=')) opts.runs = Number(a.slice(7))
  else if (a === '--json') opts.json = true
  else usage()
}
if (!Number.isInteger(opts.runs) || opts.runs < 1) usage()

const out = opts.json ? (s) => process.stderr.write(s + '\n') : (s) => process.stdout.write(s + '\n')

const fail = (msg) => {
  process.stderr.write(`traces.mjs: ${msg}\n`)
  process.exit(1)
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const hasAstral = (s) => /[\uD800-\uDFFF]/.test(s)

/**
 * Load a trace and return its patches with positions in UTF-16 units.
 * Positions in the files count code points; without astral characters the
 * two agree (asserted). Otherwise they are converted by replaying the trace on
 * a plain string first (outside any timing).
 */
const loadTrace = (file) => {
  const t = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'))
  if (t.startContent !== '' && t.startContent !== undefined) fail(`${file}: startContent is not empty`)
  let astral = hasAstral(t.endContent)
  let patches = 0
  for (const txn of t.txns) {
    for (const p of txn.patches) {
      patches++
      if (hasAstral(p[2])) astral = true
    }
  }
  let txns = t.txns.map(txn => txn.patches)
  if (astral) {
    // code points -> UTF-16 offsets, against the document as it is at each patch
    let doc = []
    txns = txns.map(ps => ps.map(([pos, del, ins]) => {
      const u16 = (cp) => { let n = 0; for (let i = 0; i < cp; i++) n += doc[i].length; return n }
      const at = u16(pos)
      const delU16 = u16(pos + del) - at
      doc.splice(pos, del, ...Array.from(ins))
      return [at, delU16, ins]
    }))
    if (doc.join('') !== t.endContent) fail(`${file}: the trace does not replay to endContent`)
    doc = null
  }
  return { txns, end: t.endContent, patches, astral }
}

const replay = (tr, doc) => {
  const text = doc.getText('text')
  for (const ps of tr.txns) {
    doc.transact(() => {
      for (const [pos, del, ins] of ps) {
        if (del > 0) text.delete(pos, del)
        if (ins !== '') text.insert(pos, ins)
      }
    })
  }
  return text
}

const newDoc = (clientID) => {
  const d = new Y.Doc()
  d.clientID = clientID
  return d
}

const check = (name, phase, text, tr) => {
  const got = text.toString()
  if (got !== tr.end) fail(`${name}: ${phase} gives ${got.length} UTF-16 units, want ${tr.end.length} (endContent)`)
}

// wall ms; the process CPU ms of the last call is left in lastCpu (more
// stable than wall time on a busy machine; includes V8's helper threads)
let lastCpu = 0
const time = (f) => {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const r = f()
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const c = process.cpuUsage(c0)
  lastCpu = (c.user + c.system) / 1000
  return [wall, r]
}

const files = (() => {
  try {
    return readdirSync(opts.dir).filter(f => f.endsWith('.json.gz')).sort()
  } catch (e) {
    fail(`cannot read ${opts.dir}: ${e.message}`)
  }
})()
if (files.length === 0) fail(`no *.json.gz traces in ${opts.dir}`)

const results = []
for (const f of files) {
  const name = f.replace(/\.json\.gz$/, '')
  const tr = loadTrace(join(opts.dir, f))

  // one replay to collect the per-transaction updates and the final state
  const ups = []
  const d0 = newDoc(1)
  d0.on('update', (u) => ups.push(u))
  check(name, 'replay', replay(tr, d0), tr)
  const full = Y.encodeStateAsUpdate(d0)
  const updBytes = ups.reduce((n, u) => n + u.length, 0)

  const ms = { replay: [], apply: [], load: [], encode: [] }
  const cpu = { replay: [], apply: [], load: [], encode: [] }
  const heap = []
  for (let run = 0; run < opts.runs; run++) {
    // replay, with the live heap of the result
    globalThis.gc()
    globalThis.gc()
    const before = process.memoryUsage().heapUsed
    const d = newDoc(1)
    const [t, text] = time(() => replay(tr, d))
    ms.replay.push(t)
    cpu.replay.push(lastCpu)
    globalThis.gc()
    globalThis.gc()
    heap.push(process.memoryUsage().heapUsed - before)
    check(name, 'replay', text, tr)

    {
      const da = newDoc(2)
      const [t] = time(() => { for (const u of ups) Y.applyUpdate(da, u) })
      ms.apply.push(t)
      cpu.apply.push(lastCpu)
      check(name, 'apply', da.getText('text'), tr)
      da.destroy()
    }
    {
      const dl = newDoc(2)
      const [t] = time(() => Y.applyUpdate(dl, full))
      ms.load.push(t)
      cpu.load.push(lastCpu)
      check(name, 'load', dl.getText('text'), tr)
      dl.destroy()
    }
    {
      const [t, enc] = time(() => Y.encodeStateAsUpdate(d))
      ms.encode.push(t)
      cpu.encode.push(lastCpu)
      if (Buffer.compare(Buffer.from(enc), Buffer.from(full)) !== 0) fail(`${name}: encodeStateAsUpdate differs between runs`)
    }
    d.destroy()
  }
  results.push({
    trace: name,
    txns: tr.txns.length,
    patches: tr.patches,
    endLength: tr.end.length,
    astral: tr.astral,
    updates: ups.length,
    updateBytes: updBytes,
    stateBytes: full.length,
    runs: opts.runs,
    medianMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, +median(v).toFixed(2)])),
    minMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, +Math.min(...v).toFixed(2)])),
    medianCpuMs: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, +median(v).toFixed(2)])),
    heapBytes: Math.round(median(heap)),
    ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, v.map(x => +x.toFixed(2))]))
  })
  d0.destroy()
}

const pad = (s, n, left) => left ? String(s).padEnd(n) : String(s).padStart(n)
out(`yjs trace benchmark (node ${process.version}; median of ${opts.runs} runs; traces in ${opts.dir})`)
const cols = [['trace', 18, true], ['patches', 9], ['replay ms', 10], ['apply ms', 10], ['load ms', 9], ['encode ms', 10], ['heap MB', 9], ['state B', 9], ['updates B', 11]]
out(cols.map(([h, n, l]) => pad(h, n, l)).join(' '))
for (const r of results) {
  out([
    pad(r.trace, 18, true), pad(r.patches, 9), pad(r.medianMs.replay.toFixed(1), 10), pad(r.medianMs.apply.toFixed(1), 10),
    pad(r.medianMs.load.toFixed(1), 9), pad(r.medianMs.encode.toFixed(2), 10), pad((r.heapBytes / 1048576).toFixed(1), 9),
    pad(r.stateBytes, 9), pad(r.updateBytes, 11)
  ].join(' '))
}
if (opts.json) {
  const pkg = JSON.parse(readFileSync(join(REPO, 'node_modules/yjs/package.json'), 'utf8'))
  process.stdout.write(JSON.stringify({ impl: 'yjs', yjs: pkg.version, node: process.version, results }, null, 2) + '\n')
}
