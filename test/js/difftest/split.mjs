// Deterministic split of a v1 update into two halves, computed with yjs only.
//
// For every client in the update a middle clock is chosen (from the step's
// uint32 `mid` and the client's position in the update):
//   tail = Y.diffUpdate(update, sv{client: mid})  -- structs from mid on, whole delete set
//   head = the structs before mid, written with yjs' own struct writers
//          (the struct straddling mid is cut with its content's splice, as
//          yjs' sliceStruct does), and an empty delete set.
// Applying head and tail (either order) gives the update's content; tail
// alone usually misses its origins and waits as pending structs.

import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { Rng, fracIndex } from './prng.mjs'

const encodeSV = (m) => {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, m.size)
  for (const [client, clock] of m) {
    encoding.writeVarUint(enc, client)
    encoding.writeVarUint(enc, clock)
  }
  return encoding.toUint8Array(enc)
}

/** Cut the left part of a decoded struct: keep `diff` units. */
const cutLeft = (s, diff) => {
  if (diff >= s.length) return s
  if (s instanceof Y.GC) return new Y.GC(s.id, diff)
  if (s instanceof Y.Skip) return new Y.Skip(s.id, diff)
  s.content.splice(diff) // keeps the left part in s.content
  s.length = diff
  return s
}

/**
 * @param {Uint8Array} update v1
 * @param {number} mid uint32
 * @returns {{head: Uint8Array, tail: Uint8Array, mids: Map<number,number>}}
 */
export const splitUpdate = (update, mid) => {
  const meta = Y.parseUpdateMeta(update)
  const rng = new Rng(mid)
  const mids = new Map()
  for (const [client, from] of meta.from) {
    const to = meta.to.get(client)
    // prefer a strict middle when there is one
    const m = to - from >= 2 ? from + 1 + fracIndex(rng.u32(), to - from - 2) : from + fracIndex(rng.u32(), to - from)
    mids.set(client, m)
  }
  const tail = Y.diffUpdate(update, encodeSV(mids))

  const { structs } = Y.decodeUpdate(update)
  /** @type {Array<{client:number, structs:any[]}>} */
  const groups = []
  for (const s of structs) {
    const m = mids.get(s.id.client)
    if (s.id.clock >= m) continue
    let g = groups.at(-1)
    if (!g || g.client !== s.id.client) {
      g = { client: s.id.client, structs: [] }
      groups.push(g)
    }
    g.structs.push(cutLeft(s, m - s.id.clock))
  }
  // no trailing skips
  for (const g of groups) {
    while (g.structs.length > 0 && g.structs.at(-1) instanceof Y.Skip) g.structs.pop()
  }
  const live = groups.filter(g => g.structs.length > 0)
  const enc = new Y.UpdateEncoderV1()
  encoding.writeVarUint(enc.restEncoder, live.length)
  for (const g of live) {
    encoding.writeVarUint(enc.restEncoder, g.structs.length)
    enc.writeClient(g.client)
    encoding.writeVarUint(enc.restEncoder, g.structs[0].id.clock)
    for (const s of g.structs) s.write(enc, 0)
  }
  encoding.writeVarUint(enc.restEncoder, 0) // empty delete set
  return { head: enc.toUint8Array(), tail, mids }
}
