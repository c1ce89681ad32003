// The harness must notice a wrong replica: replicas with a planted bug (a
// yjs replica that inserts text one position off) take the place of the Go
// peer, and nearly every seed must be reported as diverging, with a report.

import test from 'node:test'
import assert from 'node:assert/strict'
import { config } from './config.mjs'
import { runSeeds } from './suite.mjs'
import { yjsReplica } from './runner.mjs'
import { YReplica } from './yreplica.mjs'

class OffByOne extends YReplica {
  async txn (ops) {
    // after the skeleton: shift every text insertion one unit to the right
    const shifted = ops.length > 3 ? ops : ops.map(op => op.op === 'ins' ? { ...op, at: (op.at ^ 0x80000000) >>> 0 } : op)
    return super.txn(shifted)
  }
}

test('difftest: a planted bug is detected', async (t) => {
  const seeds = []
  for (let s = 1; s <= 30; s++) seeds.push(s)
  const cfg = { ...config(), seeds, verbose: false, maxFail: 1000 }
  const res = await runSeeds(t, {
    cfg,
    file: 'test/js/difftest/planted.test.mjs',
    label: 'planted',
    quiet: true,
    factory: async (script) => (index, clientID, gc) => script.goMask[index]
      ? new OffByOne(index, clientID, gc)
      : yjsReplica(index, clientID, gc)
  })
  t.diagnostic(`${res.failures.length}/${seeds.length} seeds caught the planted bug`)
  assert.ok(res.failures.length >= seeds.length * 0.7, `only ${res.failures.length} of ${seeds.length} seeds noticed`)
  for (const f of res.failures) assert.match(f.report, /diverged at step \d+/)
})
