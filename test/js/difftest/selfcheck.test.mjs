// Pure-yjs self check of the differential harness: every replica is yjs.
// Each seed runs twice and the second run must reproduce the first event for
// event (the harness is deterministic), and after the final sync all replicas
// must have converged: same state vector, same content, same struct layout;
// and every replica's state must survive loading into a fresh doc unchanged
// (up to GC merging, see below).
// yjs replicas legitimately differ in one way: an item split between the two
// halves of a surrogate pair turns both halves into U+FFFD on the replicas
// that split it, so contents are compared with every astral character
// replaced by two U+FFFD. And adjacent GC structs are compared merged: yjs
// merges a GC struct into its left neighbour only when a transaction touches
// it, so the children of a type that were deleted before the type itself
// stay separate GC structs on replicas that garbage-collected them one by one.

import test from 'node:test'
import assert from 'node:assert/strict'
import { generate } from './gen.mjs'
import { runSession, yjsReplica, canon, hex, Divergence, formatDivergence } from './runner.mjs'
import { describeUpdate } from './describe.mjs'
import { config, reproduce } from './config.mjs'
import { log } from './suite.mjs'

const FILE = 'test/js/difftest/selfcheck.test.mjs'
const norm = (s) => s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '\uFFFD\uFFFD')

/** struct listing with adjacent GC structs merged */
const layout = (v1) => {
  const out = []
  for (const line of norm(describeUpdate(v1)).split('\n')) {
    const m = /^GC (\d+):(\d+) len (\d+)$/.exec(line)
    const prev = out.length > 0 ? /^GC (\d+):(\d+) len (\d+)$/.exec(out.at(-1)) : null
    if (m && prev && m[1] === prev[1] && +prev[2] + +prev[3] === +m[2]) {
      out[out.length - 1] = `GC ${prev[1]}:${prev[2]} len ${+prev[3] + +m[3]}`
    } else out.push(line)
  }
  return out.join('\n')
}

/** @returns {string|null} why the replicas have not converged */
export const convergence = (script, states) => {
  const sv0 = hex(states[0].sv)
  const v0 = hex(states[0].v1)
  const j0 = norm(canon(states[0].json))
  for (let r = 1; r < states.length; r++) {
    if (hex(states[r].sv) !== sv0) return `r${r} state vector ${hex(states[r].sv)} != r0 ${sv0}`
    if (norm(canon(states[r].json)) !== j0) return `r${r} content differs from r0:\n  r0 ${canon(states[0].json)}\n  r${r} ${canon(states[r].json)}`
    if (hex(states[r].v1) === v0) continue
    const d0 = layout(states[0].v1)
    const d = layout(states[r].v1)
    if (d !== d0) return `r${r} struct store differs from r0:\n--- r0\n${d0}\n--- r${r}\n${d}`
  }
  return null
}

/**
 * A replica's full state, loaded into a fresh doc (from v1 and from v2),
 * encodes to the same structs -- up to GC merging: loading merges adjacent
 * GC structs that the replica itself kept apart, so the bytes may differ.
 */
const roundTrip = (finalEvents) => {
  const ev = Object.fromEntries(finalEvents.map(e => [e.tag, e.value]))
  const lay = (h) => layout(Buffer.from(h, 'hex'))
  for (let r = 0; `r${r}.state.v1` in ev; r++) {
    for (const k of ['fresh.v1', 'freshV2.v1']) {
      if (ev[`r${r}.${k}`] !== ev[`r${r}.state.v1`] && lay(ev[`r${r}.${k}`]) !== lay(ev[`r${r}.state.v1`])) return `r${r}: the state loaded into a fresh doc (${k}) encodes differently:\n  ${ev[`r${r}.state.v1`]}\n  ${ev[`r${r}.${k}`]}`
    }
    if (ev[`r${r}.fresh.json`] !== ev[`r${r}.state.json`]) return `r${r}: the state loaded into a fresh doc has other content`
  }
  return null
}

test('difftest self check: yjs vs yjs', async (t) => {
  const cfg = config()
  const failures = []
  const t0 = Date.now()
  let steps = 0
  let events = 0
  for (const seed of cfg.seeds) {
    const script = generate(seed, { ops: cfg.ops })
    const verbose = cfg.verbose ? log : undefined
    if (cfg.verbose) log(`seed ${seed}: ${script.clients.length} replicas, clients ${script.clients.join(',')}, gc ${script.gc}, ${script.steps.length} steps`)
    let why = null
    try {
      const ref = await runSession(script, yjsReplica)
      await runSession(script, yjsReplica, { reference: ref.events, verbose })
      steps += script.steps.length
      events += ref.events.reduce((n, s) => n + s.length, 0)
      why = convergence(script, ref.states)
      if (why) why = 'replicas did not converge: ' + why
      else why = roundTrip(ref.events.at(-1))
    } catch (e) {
      why = e instanceof Divergence
        ? 'yjs is not deterministic under the harness:\n' + formatDivergence(script, e, ['yjs', 'yjs'])
        : 'harness error: ' + e.stack
    }
    if (why) {
      failures.push(seed)
      if (failures.length <= 3) log(`seed ${seed} FAILED: ${why}\nreproduce: ${reproduce(FILE, seed, cfg.ops)}\n`)
      else log(`seed ${seed} FAILED; reproduce: ${reproduce(FILE, seed, cfg.ops)}`)
      if (failures.length >= cfg.maxFail) break
    }
  }
  t.diagnostic(`${cfg.seeds.length} seeds, ${steps} steps, ${events} events, ${Date.now() - t0} ms`)
  assert.deepEqual(failures, [], `failing seeds: ${failures.join(' ')}`)
})
