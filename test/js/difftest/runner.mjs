// Runs a generated session against a set of replicas and records (or checks)
// everything the replicas emit, step by step.

import * as Y from 'yjs'
import { Rng, fracElem } from './prng.mjs'
import { splitUpdate } from './split.mjs'
import { YReplica, newDoc, docJSON, docView } from './yreplica.mjs'
import { describeUpdate } from './describe.mjs'

export const hex = (u) => Buffer.from(u).toString('hex')

/** Stable JSON: object keys sorted, so that Go and JS key order don't matter for views. */
export const canon = (v) => JSON.stringify(v, (k, x) =>
  (x && typeof x === 'object' && !Array.isArray(x))
    ? Object.fromEntries(Object.keys(x).sort().map(key => [key, x[key]]))
    : x)

export class Divergence extends Error {
  constructor (info) {
    super(info.message)
    this.info = info
  }
}

/**
 * Event recorder. In record mode it stores events; in check mode it compares
 * each new event with the reference and throws a Divergence at the first
 * difference.
 */
class Recorder {
  constructor (reference, verbose) {
    this.ref = reference // array of steps, each an array of events, or null
    this.steps = []
    this.cur = null
    this.stepIndex = -1
    this.verbose = verbose
  }

  begin (i, step) {
    this.stepIndex = i
    this.step = step
    this.cur = []
    this.steps.push(this.cur)
    if (this.verbose) this.verbose(`step ${i} ${JSON.stringify(step)}`)
  }

  /** @param {string} tag @param {string} value (hex or canonical JSON) @param {any} [extra] */
  ev (tag, value, extra) {
    const k = this.cur.length
    this.cur.push({ tag, value })
    if (this.verbose) this.verbose(`  ${tag} ${value}`)
    if (this.ref) {
      const want = this.ref[this.stepIndex]?.[k]
      if (!want || want.tag !== tag || want.value !== value) {
        throw new Divergence({
          message: `step ${this.stepIndex} event ${k}: expected ${want ? want.tag : '(nothing)'}, got ${tag}`,
          stepIndex: this.stepIndex,
          step: this.step,
          event: k,
          want: want || null,
          got: { tag, value },
          extra
        })
      }
    }
  }

  /** at the end of a step: the reference must not have more events */
  end () {
    if (!this.ref) return
    const want = this.ref[this.stepIndex] || []
    if (want.length > this.cur.length) {
      const w = want[this.cur.length]
      throw new Divergence({
        message: `step ${this.stepIndex} event ${this.cur.length}: expected ${w.tag}, got nothing`,
        stepIndex: this.stepIndex,
        step: this.step,
        event: this.cur.length,
        want: w,
        got: null
      })
    }
  }
}

/**
 * @param {ReturnType<import('./gen.mjs').generate>} script
 * @param {(index:number, clientID:number, gc:boolean) => Promise<any>} makeReplica
 * @param {{reference?: any[], verbose?: (s:string)=>void}} opts
 * @returns {Promise<{events: any[], states: any[], replicas: any[]}>}
 */
export const runSession = async (script, makeReplica, opts = {}) => {
  const R = script.clients.length
  const rec = new Recorder(opts.reference || null, opts.verbose)
  const reps = []
  try {
    for (let r = 0; r < R; r++) reps.push(await makeReplica(r, script.clients[r], script.gc))
    const queues = reps.map(() => [])

    const emitted = (r, list, relay) => {
      for (const u of list) {
        rec.ev(`r${r}.update`, hex(u))
        if (relay) for (let q = 0; q < R; q++) if (q !== r) queues[q].push(u)
      }
    }
    const deliver = async (r, u, v2, relay) => {
      const payload = v2 ? Y.convertUpdateFormatV1ToV2(u) : u
      emitted(r, await reps[r].apply(payload, v2), relay)
    }

    for (let i = 0; i < script.steps.length; i++) {
      const st = script.steps[i]
      rec.begin(i, st)
      switch (st.k) {
        case 'txn':
          emitted(st.r, await reps[st.r].txn(st.ops), true)
          break
        case 'dlv': {
          const q = queues[st.r]
          if (q.length === 0) break
          const at = fracElem(st.u, q.length)
          switch (st.mode) {
            case 'one':
            case 'oldest': {
              const [u] = q.splice(st.mode === 'oldest' ? 0 : at, 1)
              await deliver(st.r, u, st.v2, st.relay)
              break
            }
            case 'dup': {
              // deliver and leave it queued: it arrives again later
              await deliver(st.r, q[at], st.v2, st.relay)
              break
            }
            case 'merge': {
              const us = q.splice(at, st.n)
              await deliver(st.r, us.length === 1 ? us[0] : Y.mergeUpdates(us), st.v2, st.relay)
              break
            }
            case 'split': {
              const [u] = q.splice(at, 1)
              const { head, tail } = splitUpdate(u, st.mid)
              const [first, second] = st.tailFirst ? [tail, head] : [head, tail]
              rec.ev(`r${st.r}.split`, hex(first) + ' ' + hex(second))
              await deliver(st.r, first, st.v2, st.relay)
              if (st.later) q.push(second)
              else await deliver(st.r, second, st.v2, st.relay)
              break
            }
            default: throw new Error('bad mode ' + st.mode)
          }
          break
        }
        case 'offline':
          break
        case 'online': {
          const q = queues[st.r].splice(0)
          if (q.length === 0) break
          if (st.mode === 'merged') {
            await deliver(st.r, q.length === 1 ? q[0] : Y.mergeUpdates(q), st.v2, false)
          } else {
            if (st.mode === 'shuffle') {
              const rng = new Rng(st.seed)
              for (let j = q.length - 1; j > 0; j--) {
                const k = rng.int(0, j)
                const t = q[j]; q[j] = q[k]; q[k] = t
              }
            }
            for (const u of q) await deliver(st.r, u, st.v2, false)
          }
          break
        }
        case 'sync': {
          // Pairwise: b sends its state vector, a answers with the diff.
          // Deletions don't move state vectors (and yjs' format cleanup
          // deletes after remote transactions), so repeat whole rounds
          // until a round changes nothing anywhere.
          let quiet = false
          for (let round = 0; round < 8 && !quiet; round++) {
            quiet = true
            for (let a = 0; a < R; a++) {
              for (let b = 0; b < R; b++) {
                if (a === b) continue
                const sv = await reps[b].sv()
                rec.ev(`r${b}.sv`, hex(sv))
                const d = await reps[a].diff(sv)
                rec.ev(`r${a}.diff(r${b})`, hex(d))
                rec.ev(`r${a}.diffV2(r${b})`, hex(await reps[a].diff(sv, true)))
                const em = await reps[b].apply(d, false)
                if (em.length > 0) quiet = false
                emitted(b, em, false)
              }
            }
          }
          if (!quiet) rec.ev('sync.notQuiet', '')
          break
        }
        default: throw new Error('bad step ' + st.k)
      }
      rec.end()
    }

    // final states
    rec.begin(script.steps.length, { k: 'final' })
    const states = []
    for (let r = 0; r < R; r++) {
      const s = await reps[r].state()
      states.push(s)
      rec.ev(`r${r}.state.v1`, hex(s.v1))
      rec.ev(`r${r}.state.v2`, hex(s.v2))
      rec.ev(`r${r}.state.sv`, hex(s.sv))
      rec.ev(`r${r}.state.json`, canon(s.json))
      // the full state, loaded into a fresh yjs doc, must give the same
      // content and the same encoding (both formats)
      const f1 = newDoc(0x7fff0000 + r, script.gc)
      Y.applyUpdate(f1, s.v1)
      const f2 = newDoc(0x7fff0000 + r, script.gc)
      Y.applyUpdateV2(f2, s.v2)
      rec.ev(`r${r}.fresh.json`, canon(docJSON(f1)))
      rec.ev(`r${r}.fresh.view`, canon(docView(f1)))
      rec.ev(`r${r}.fresh.v1`, hex(Y.encodeStateAsUpdate(f1)))
      rec.ev(`r${r}.freshV2.view`, canon(docView(f2)))
      rec.ev(`r${r}.freshV2.v1`, hex(Y.encodeStateAsUpdate(f2)))
      f1.destroy()
      f2.destroy()
    }
    rec.end()
    return { events: rec.steps, states, replicas: reps }
  } catch (e) {
    if (!(e instanceof Divergence) && e && typeof e === 'object') {
      e.stepIndex = rec.stepIndex
      e.step = rec.step
    }
    throw e
  } finally {
    for (const rep of reps) await rep.close()
  }
}

export const yjsReplica = async (index, clientID, gc) => new YReplica(index, clientID, gc)

const opsSoFar = (script, upto, lines) => {
  lines.push('  steps so far:')
  upto = Math.min(upto, script.steps.length - 1)
  for (let i = 0; i <= upto; i++) {
    const st = script.steps[i]
    if (st.k === 'txn') lines.push(`    #${i} txn r${st.r}: ${st.ops.map(o => JSON.stringify(o)).join(' ; ')}`)
    else lines.push(`    #${i} ${JSON.stringify(st)}`)
  }
}

const header = (script) => `seed ${script.seed}: ${script.clients.length} replicas (client ids ${script.clients.join(', ')}), gc ${script.gc}`

/** Human-readable report of an error (Go peer error, crash, timeout) during a session. */
export const formatError = (script, e) => {
  const lines = [header(script)]
  const where = e.stepIndex === undefined ? '' : ` at step ${e.stepIndex} ${JSON.stringify(e.step)}`
  lines.push(`error${where}: ${e.stack || e}`)
  if (e.stepIndex !== undefined) opsSoFar(script, e.stepIndex, lines)
  return lines.join('\n')
}

/** Human-readable report of a divergence. */
export const formatDivergence = (script, div, labels) => {
  const info = div.info
  const lines = [header(script)]
  lines.push(`diverged at step ${info.stepIndex}, event ${info.event}: ${info.message}`)
  lines.push(`  step: ${JSON.stringify(info.step)}`)
  const show = (name, e) => {
    if (!e) { lines.push(`  ${name}: (no event)`); return }
    lines.push(`  ${name}: ${e.tag}`)
    lines.push(`    ${e.value}`)
    if (/\.(update|diff\(r\d+\)|state\.v1|fresh\.v1|freshV2\.v1)$/.test(e.tag)) {
      lines.push('    ' + describeUpdate(Buffer.from(e.value, 'hex')).split('\n').join('\n    '))
    }
  }
  show(`reference (${labels[0]})`, info.want)
  show(`this run  (${labels[1]})`, info.got)
  opsSoFar(script, info.stepIndex, lines)
  return lines.join('\n')
}
