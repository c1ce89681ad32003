// Differential test of the Go crdt package against yjs: every seed runs once
// with all replicas in yjs (the reference) and once with some replicas (chosen
// by the seed, at least one) played by the Go peer crdt/internal/ypeer. Every
// update, state vector, diff and final state must be byte-identical.

import test from 'node:test'
import assert from 'node:assert/strict'
import { config } from './config.mjs'
import { runSeeds } from './suite.mjs'
import { yjsReplica } from './runner.mjs'
import { buildPeer, GoPeer, GoReplica } from './goreplica.mjs'

const FILE = 'test/js/difftest/gopeer.test.mjs'

test('difftest: Go peer vs yjs', async (t) => {
  const cfg = config()
  const { bin, cleanup } = buildPeer() // a failing build fails the test, loudly
  let peer = new GoPeer(bin, cfg.timeout)
  try {
    const res = await runSeeds(t, {
      cfg,
      file: FILE,
      label: 'Go',
      factory: async (script) => {
        if (peer.dead) peer = new GoPeer(bin, cfg.timeout) // after a crash or a timeout
        await peer.call('reset')
        return (index, clientID, gc) => script.goMask[index]
          ? GoReplica.create(peer, index, clientID, gc)
          : yjsReplica(index, clientID, gc)
      }
    })
    t.diagnostic(`${cfg.seeds.length} seeds, ${res.steps} steps, ${res.ms} ms`)
    assert.deepEqual(res.failures.map(f => f.seed), [], `${res.failures.length} failing seed(s): ${res.failures.map(f => f.seed).join(' ')}`)
  } finally {
    await peer.close()
    cleanup()
  }
})
