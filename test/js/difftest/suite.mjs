// The seed loop shared by the differential tests: for every seed a reference
// run with all replicas in yjs, then a run with some replicas replaced, which
// must reproduce the reference event for event.

import { generate } from './gen.mjs'
import { runSession, yjsReplica, Divergence, formatDivergence, formatError } from './runner.mjs'
import { reproduce } from './config.mjs'

/**
 * @param {any} t node:test context (for diagnostics)
 * @param {{
 *   cfg: ReturnType<import('./config.mjs').config>,
 *   file: string,
 *   label: string,
 *   factory: (script:any) => Promise<(index:number, clientID:number, gc:boolean) => Promise<any>>,
 *   quiet?: boolean
 * }} o
 * @returns {Promise<{failures: Array<{seed:number, report:string}>, ms:number, steps:number}>}
 */
// Reports go to stderr: TAP diagnostics cannot hold multi-line text.
export const log = (s) => process.stderr.write(s + '\n')

export const runSeeds = async (t, o) => {
  const { cfg } = o
  const failures = []
  const t0 = Date.now()
  let steps = 0
  for (const seed of cfg.seeds) {
    const script = generate(seed, { ops: cfg.ops })
    const who = script.goMask.map((g, r) => g ? `r${r}` : null).filter(x => x).join(',')
    if (cfg.verbose) log(`seed ${seed}: ${script.clients.length} replicas, clients ${script.clients.join(',')}, gc ${script.gc}, ${script.steps.length} steps, ${o.label} replicas: ${who}`)
    const ref = await runSession(script, yjsReplica)
    let report = null
    try {
      const factory = await o.factory(script)
      await runSession(script, factory, {
        reference: ref.events,
        verbose: cfg.verbose ? log : undefined
      })
    } catch (e) {
      report = e instanceof Divergence
        ? formatDivergence(script, e, ['all yjs', `${o.label} ${who}`])
        : formatError(script, e)
    }
    steps += script.steps.length
    if (report !== null) {
      const repro = `reproduce: ${reproduce(o.file, seed, cfg.ops)}`
      failures.push({ seed, report })
      if (!o.quiet) {
        if (failures.length <= 2 || cfg.verbose) log(`seed ${seed} FAILED\n${report}\n${repro}\n`)
        else log(`seed ${seed} FAILED: ${report.split('\n').slice(1, 3).map(l => l.trim().slice(0, 300)).join('\n  ')}\n${repro}\n`)
      }
      if (failures.length >= cfg.maxFail) break
    }
  }
  return { failures, ms: Date.now() - t0, steps }
}
