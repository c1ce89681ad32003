#!/usr/bin/env node
// Long differential runs, sharded over processes.
//
//   node test/js/soak.mjs [--seeds N] [--base B] [--jobs J] [--ops K] [--file F]
//
// Runs seeds B .. B+N-1 (default 50000 seeds from 1) of test/js/difftest/F
// (default gopeer.test.mjs) in J parallel `node --test` processes (default:
// the number of CPUs), each on its own contiguous slice of seeds. Failing seeds
// are reported as the tests report them (with a reproduce command); the exit
// status is non-zero if any shard failed.

import { spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const opts = { seeds: 50000, base: 1, jobs: availableParallelism(), ops: undefined, file: 'gopeer.test.mjs' }
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const [k, inline] = args[i].split('=', 2)
  const v = inline ?? args[++i]
  switch (k) {
    case '--seeds': opts.seeds = Number(v); break
    case '--base': opts.base = Number(v); break
    case '--jobs': opts.jobs = Number(v); break
    case '--ops': opts.ops = Number(v); break
    case '--file': opts.file = v; break
    default:
      process.stderr.write('usage: node test/js/soak.mjs [--seeds N] [--base B] [--jobs J] [--ops K] [--file F]\n')
      process.exit(2)
  }
}
for (const k of ['seeds', 'base', 'jobs']) {
  if (!Number.isInteger(opts[k]) || opts[k] < 1) {
    process.stderr.write(`--${k}: want a positive integer\n`)
    process.exit(2)
  }
}

const t0 = Date.now()
const jobs = Math.min(opts.jobs, opts.seeds)
const per = Math.ceil(opts.seeds / jobs)
const shards = []
for (let j = 0; j < jobs; j++) {
  const base = opts.base + j * per
  const n = Math.min(per, opts.base + opts.seeds - base)
  if (n <= 0) break
  shards.push(new Promise((resolve) => {
    const env = { ...process.env, QUIRE_DIFF_SEEDS: String(n), QUIRE_DIFF_SEED_BASE: String(base), QUIRE_DIFF_MAX_FAIL: process.env.QUIRE_DIFF_MAX_FAIL || '20' }
    if (opts.ops !== undefined) env.QUIRE_DIFF_OPS = String(opts.ops)
    delete env.QUIRE_DIFF_SEED
    const p = spawn(process.execPath, ['--test', '--test-reporter=spec', join(HERE, 'difftest', opts.file)], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    const collect = (d) => { buf += d }
    p.stdout.on('data', collect)
    p.stderr.on('data', collect)
    p.on('exit', (code) => {
      const tag = `[seeds ${base}..${base + n - 1}]`
      process.stdout.write(`${tag} ${code === 0 ? 'ok' : 'FAILED'} after ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)
      if (code !== 0) process.stdout.write(buf.split('\n').map(l => `${tag} ${l}`).join('\n') + '\n')
      resolve(code === 0)
    })
  }))
}
const ok = (await Promise.all(shards)).every(x => x)
process.stdout.write(`${opts.seeds} seeds (${opts.base}..${opts.base + opts.seeds - 1}) of ${opts.file} in ${shards.length} processes: ${ok ? 'ok' : 'FAILED'}, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)
process.exit(ok ? 0 : 1)
