#!/usr/bin/env node
// Side-by-side trace benchmark: quire's crdt (Go) and yjs (Node) on the same
// traces and phases, interleaved round by round so that both see the same
// machine noise. Prints a Markdown table of medians and ratios.
//
//   node bench/compare.mjs [--rounds N] [--traces DIR]
//
// Each round runs `go test -bench BenchmarkTrace` once (replay and apply one
// iteration, load and encode ten) and bench/js/traces.mjs once. Ratios are
// yjs time / quire time (higher is better for quire) and quire heap / yjs heap.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, cpus } from 'node:os'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
let rounds = 5
let traces = process.env.QUIRE_TRACES || join(REPO, 'crdt/testdata/traces')
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i])
  else if (args[i] === '--traces') traces = args[++i]
  else { console.error('usage: node bench/compare.mjs [--rounds N] [--traces DIR]'); process.exit(2) }
}

const run = (cmd, argv, env = {}) => {
  const r = spawnSync(cmd, argv, { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) {
    console.error(`${cmd} ${argv.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
    process.exit(1)
  }
  return r.stdout
}

const tmp = mkdtempSync(join(tmpdir(), 'quire-bench-'))
const testBin = join(tmp, 'crdt.test')
run('go', ['test', '-c', '-o', testBin, './crdt'])

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// samples[trace][phase] = { go: [ms], yjs: [ms] }; heap likewise in bytes.
const samples = {}
const add = (trace, phase, impl, v) => {
  samples[trace] ??= {}
  samples[trace][phase] ??= { go: [], yjs: [] }
  samples[trace][phase][impl].push(v)
}

const goBench = (pattern, benchtime) => {
  const out = run(testBin, ['-test.run', '^$', '-test.bench', pattern, '-test.benchtime', benchtime, '-test.benchmem'],
    { QUIRE_TRACES: traces })
  for (const line of out.split('\n')) {
    const m = line.match(/^BenchmarkTrace\/(.+)\/(replay|apply|load|encode)(?:-\d+)?\s+\d+\s+([\d.]+) ns\/op(.*)$/)
    if (!m) continue
    add(m[1], m[2], 'go', Number(m[3]) / 1e6)
    const heap = m[4].match(/([\d.]+) heap-bytes/)
    if (heap) add(m[1], 'heap', 'go', Number(heap[1]))
  }
}

for (let r = 0; r < rounds; r++) {
  process.stderr.write(`round ${r + 1}/${rounds}\n`)
  goBench('BenchmarkTrace/.*/(replay|apply)$', '1x')
  goBench('BenchmarkTrace/.*/(load|encode)$', '10x')
  const y = JSON.parse(run('node', [join(REPO, 'bench/js/traces.mjs'), '--runs', '3', '--json', '--traces', traces]))
  for (const res of y.results) {
    for (const [phase, ms] of Object.entries(res.medianMs)) add(res.trace, phase, 'yjs', ms)
    add(res.trace, 'heap', 'yjs', res.heapBytes)
  }
}
rmSync(tmp, { recursive: true, force: true })

const goVersion = run('go', ['env', 'GOVERSION']).trim()
const yjsVersion = JSON.parse(run('node', ['-p', 'JSON.stringify(require("yjs/package.json"))'])).version
console.log(`Medians of ${rounds} interleaved rounds; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${goVersion}; yjs ${yjsVersion}, node ${process.version}; ${new Date().toISOString().slice(0, 10)}.`)
console.log('')
console.log('| trace | phase | yjs | quire | yjs / quire |')
console.log('|---|---|---:|---:|---:|')
for (const [trace, phases] of Object.entries(samples)) {
  for (const phase of ['replay', 'apply', 'load', 'encode']) {
    const p = phases[phase]
    if (!p || !p.go.length || !p.yjs.length) continue
    const g = median(p.go)
    const y = median(p.yjs)
    console.log(`| ${trace} | ${phase} | ${y.toFixed(y < 10 ? 2 : 0)} ms | ${g.toFixed(g < 10 ? 2 : 0)} ms | ${(y / g).toFixed(1)}× |`)
  }
  const h = phases.heap
  if (h && h.go.length && h.yjs.length) {
    const g = median(h.go)
    const y = median(h.yjs)
    console.log(`| ${trace} | live heap after replay | ${(y / 1048576).toFixed(2)} MB | ${(g / 1048576).toFixed(2)} MB | quire is ${(g / y).toFixed(2)}× yjs |`)
  }
}
