// Session generator: a pure function of (seed, options) -> script.
//
// The script never depends on replica state. Positions are uint32 "fractions"
// that each replica resolves against its own current state (see ops.md in
// this directory and crdt/internal/ypeer/main.go, which implements the same
// interpretation in Go). So the same seed drives exactly the same ops and the
// same delivery schedule whatever implements each replica.

import { Rng } from './prng.mjs'

// Client ids: small ones, varUint boundaries, and large ones up to 2^32-1.
const CLIENT_POOL = [
  1, 2, 3, 5, 7, 42, 127, 128, 300, 16383, 16384, 65535,
  2097151, 2097152, 268435455, 268435456,
  2147483647, 2147483648, 3000000000, 4294967294, 4294967295
]

// Strings inserted into texts: ASCII, accented (precomposed and combining),
// CJK, emoji (astral: two UTF-16 units each), newlines.
const STRING_POOL = [
  'a', 'b', 'xyz', 'hello ', ' world', 'é', 'naïve', 'e\u0301', 'ÅΩß', '日本語',
  '中', '한국어', '😀', 'a😀b', '👍🏽', '𝔘𝔫𝔦', '🇫🇷', '\n', ' ', 'Ж', '∑x²', 'x😀😀y'
]

const JSON_POOL = [
  0, 1, -1, 7, 1.5, -2.25, 0.1, 63, 64, -64, -65, 127, 128,
  2147483647, 2147483648, -2147483647, -2147483648, -2147483649, 4294967295,
  9007199254740991, -9007199254740991, 1e300, 3.4028234663852886e38, 1e-7,
  '', 'x', 'héllo', '日本', '😀x', 'a"b\\c', 'line\nbreak',
  true, false, null,
  [], {}, [1, 'a', [true, null]], [1.5, { k: 'v' }],
  { b: 1, a: { c: [2, 3] } },
  { 10: 'ten', 2: 'two', z: 'zed', a: 'ay' },
  { nested: { deeper: { deepest: [0, -1, 2147483648] } } },
  { '': 'empty key', 'é': 'accent', '😀': 'emoji key' }
]

const TEXT_ATTRS = [
  { bold: true }, { italic: true }, { link: 'https://example.com/a' }, { bold: null },
  { bold: true, italic: true }, { italic: null, bold: true }, { size: 12 },
  { link: { href: 'b.html', title: 'B' } }, {}
]
const FORMAT_ATTRS = [
  { bold: true }, { italic: true }, { bold: null }, { italic: null },
  { link: 'https://example.com/a' }, { link: null }, { bold: true, italic: null }, { size: 12 }
]
const EMBEDS = [{ image: 'x.png' }, { formula: 'e=mc^2' }, { video: 'v.mp4', w: 320 }]
const XML_NAMES = ['p', 'h1', 'h2', 'blockquote', 'li']
const XML_ATTR_KEYS = ['class', 'id', 'data-x', 'style']
const XML_ATTR_VALUES = ['a', 'b c', '日本', '😀', '', 'x"y']
const MAP_KEYS = ['a', 'b', 'c', 'd', 'é', '😀']
// Keys under which nested types usually live. Sets to these keys usually
// create the matching type, so nested paths resolve most of the time.
const TYPED_KEYS = { text: ['t1', 't2'], map: ['m1'], array: ['l1'] }

export const DEFAULTS = { ops: 60 }

// A first transaction that creates nested types everywhere, so that nested
// paths resolve often. Sessions start with it most of the time.
const skeleton = (rng) => [
  { t: ['map'], op: 'set', k: 't1', v: { y: 'text' } },
  { t: ['map'], op: 'set', k: 't2', v: { y: 'text' } },
  { t: ['map'], op: 'set', k: 'm1', v: { y: 'map' } },
  { t: ['map'], op: 'set', k: 'l1', v: { y: 'array' } },
  { t: ['map', { k: 'm1' }], op: 'set', k: 't1', v: { y: 'text' } },
  { t: ['map', { k: 'm1' }], op: 'set', k: 'm1', v: { y: 'map' } },
  { t: ['array'], op: 'push', at: 0, v: [{ y: 'text' }, { y: 'map' }, { j: 1 }, { y: 'array' }] },
  { t: ['array', { i: 0, w: 'map' }], op: 'set', k: 't1', v: { y: 'text' } },
  { t: ['xml'], op: 'xins', at: 0, nodes: [{ e: 'p' }, { x: 1 }, { e: 'h1' }] },
  { t: ['xml', { i: 0, w: 'elem' }], op: 'xins', at: 0, nodes: [{ x: 1 }, { e: 'li' }] },
  { t: ['xml', { i: 3000000000, w: 'elem' }], op: 'xins', at: 0, nodes: [{ x: 1 }] },
  { t: ['text'], op: 'ins', at: 0, s: genString(rng) + genString(rng) },
  { t: ['map', { k: 't1' }], op: 'ins', at: 0, s: genString(rng) },
  { t: ['xml', { i: 0, w: 'text' }], op: 'ins', at: 0, s: genString(rng) }
]

const randomAscii = (rng) => {
  const n = rng.int(1, 8)
  let s = ''
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(0x61, 0x7a))
  return s
}

const genString = (rng) => rng.chance(0.3) ? randomAscii(rng) : rng.pick(STRING_POOL)

const genJSON = (rng) => rng.pick(JSON_POOL)

/** A delete length: usually short, sometimes large (clipped by the replica). */
const genLen = (rng) => rng.chance(0.85) ? rng.int(1, 4) : rng.int(5, 40)

const genTypedValue = (rng) => {
  const kind = rng.weighted({ text: 3, map: 2, array: 2 })
  return { kind, key: rng.chance(0.85) ? rng.pick(TYPED_KEYS[kind]) : rng.pick(MAP_KEYS) }
}

// ---- targets (paths) -----------------------------------------------------

// A list step {i: u, w: kind} picks, among the live children of the kind
// `w` ('text': Text or XmlText, 'map', 'array', 'elem': XmlElement), the
// one at fracElem(u, count); a map step {k: key} takes the key's value.
const textTarget = (rng) => {
  switch (rng.weighted({ root: 45, mapText: 15, mapMapText: 5, arrayText: 8, arrayMapText: 5, xmlText: 12, xmlDeep: 10 })) {
    case 'root': return ['text']
    case 'mapText': return ['map', { k: rng.pick(TYPED_KEYS.text) }]
    case 'mapMapText': return ['map', { k: 'm1' }, { k: rng.pick(TYPED_KEYS.text) }]
    case 'arrayText': return ['array', { i: rng.u32(), w: 'text' }]
    case 'arrayMapText': return ['array', { i: rng.u32(), w: 'map' }, { k: rng.pick(TYPED_KEYS.text) }]
    case 'xmlText': return ['xml', { i: rng.u32(), w: 'text' }]
    default: return ['xml', { i: rng.u32(), w: 'elem' }, { i: rng.u32(), w: 'text' }]
  }
}

const mapTarget = (rng) => {
  switch (rng.weighted({ root: 55, mapMap: 20, arrayMap: 15, mapMapMap: 10 })) {
    case 'root': return ['map']
    case 'mapMap': return ['map', { k: 'm1' }]
    case 'arrayMap': return ['array', { i: rng.u32(), w: 'map' }]
    default: return ['map', { k: 'm1' }, { k: 'm1' }]
  }
}

const arrayTarget = (rng) => {
  switch (rng.weighted({ root: 55, mapArray: 20, arrayArray: 25 })) {
    case 'root': return ['array']
    case 'mapArray': return ['map', { k: 'l1' }]
    default: return ['array', { i: rng.u32(), w: 'array' }]
  }
}

const xmlTarget = (rng) => {
  switch (rng.weighted({ root: 55, elem: 35, deep: 10 })) {
    case 'root': return ['xml']
    case 'elem': return ['xml', { i: rng.u32(), w: 'elem' }]
    default: return ['xml', { i: rng.u32(), w: 'elem' }, { i: rng.u32(), w: 'elem' }]
  }
}
const xmlElemTarget = (rng) => rng.chance(0.75)
  ? ['xml', { i: rng.u32(), w: 'elem' }]
  : ['xml', { i: rng.u32(), w: 'elem' }, { i: rng.u32(), w: 'elem' }]
const xmlTextTarget = (rng) => rng.chance(0.65)
  ? ['xml', { i: rng.u32(), w: 'text' }]
  : ['xml', { i: rng.u32(), w: 'elem' }, { i: rng.u32(), w: 'text' }]

// ---- ops ---------------------------------------------------------------

const genTextOp = (rng) => {
  const t = textTarget(rng)
  switch (rng.weighted({ ins: 50, del: 25, fmt: 15, emb: 5, insDel: 5 })) {
    case 'ins': {
      const op = { t, op: 'ins', at: rng.u32(), s: genString(rng) }
      if (rng.chance(0.45)) op.a = rng.pick(TEXT_ATTRS)
      return [op]
    }
    case 'del': return [{ t, op: 'del', at: rng.u32(), n: genLen(rng) }]
    case 'fmt': return [{ t, op: 'fmt', at: rng.u32(), n: genLen(rng), a: rng.pick(FORMAT_ATTRS) }]
    case 'emb': {
      const op = { t, op: 'emb', at: rng.u32(), e: rng.pick(EMBEDS) }
      if (rng.chance(0.4)) op.a = rng.pick(TEXT_ATTRS)
      return [op]
    }
    default:
      // insert then delete in the same transaction (gc of fresh items)
      return [
        { t, op: 'ins', at: rng.u32(), s: genString(rng) },
        { t, op: 'del', at: rng.u32(), n: genLen(rng) }
      ]
  }
}

const genValue = (rng) => {
  if (rng.chance(0.25)) return { y: genTypedValue(rng).kind }
  return { j: genJSON(rng) }
}

const genMapOp = (rng) => {
  const t = mapTarget(rng)
  switch (rng.weighted({ setJSON: 50, setType: 20, unset: 20, setThenEdit: 10 })) {
    case 'setJSON': return [{ t, op: 'set', k: rng.chance(0.9) ? rng.pick(MAP_KEYS) : rng.pick(TYPED_KEYS.text), v: { j: genJSON(rng) } }]
    case 'setType': {
      const { kind, key } = genTypedValue(rng)
      return [{ t, op: 'set', k: key, v: { y: kind } }]
    }
    case 'unset': return [{ t, op: 'unset', k: rng.pick(MAP_KEYS.concat(TYPED_KEYS.text, TYPED_KEYS.map, TYPED_KEYS.array)) }]
    default: {
      // create a text under the root map and write into it in one transaction
      const key = rng.pick(TYPED_KEYS.text)
      return [
        { t: ['map'], op: 'set', k: key, v: { y: 'text' } },
        { t: ['map', { k: key }], op: 'ins', at: rng.u32(), s: genString(rng) }
      ]
    }
  }
}

const genArrayOp = (rng) => {
  const t = arrayTarget(rng)
  if (rng.chance(0.35)) return [{ t, op: 'del', at: rng.u32(), n: genLen(rng) }]
  const n = rng.weighted({ 1: 6, 2: 2, 3: 1, 4: 1 }) | 0
  const v = []
  for (let i = 0; i < n; i++) v.push(genValue(rng))
  return [{ t, op: 'push', at: rng.u32(), v }]
}

const genXmlOp = (rng) => {
  switch (rng.weighted({ xins: 40, del: 15, attr: 20, rmattr: 8, text: 17 })) {
    case 'xins': {
      const n = rng.chance(0.8) ? 1 : 2
      const nodes = []
      for (let i = 0; i < n; i++) nodes.push(rng.chance(0.55) ? { e: rng.pick(XML_NAMES) } : { x: 1 })
      return [{ t: xmlTarget(rng), op: 'xins', at: rng.u32(), nodes }]
    }
    case 'del': return [{ t: xmlTarget(rng), op: 'del', at: rng.u32(), n: rng.chance(0.8) ? 1 : rng.int(2, 4) }]
    case 'attr': return [{ t: xmlElemTarget(rng), op: 'attr', k: rng.pick(XML_ATTR_KEYS), v: rng.pick(XML_ATTR_VALUES) }]
    case 'rmattr': return [{ t: xmlElemTarget(rng), op: 'rmattr', k: rng.pick(XML_ATTR_KEYS) }]
    default: {
      // text ops inside an XmlText child (or grandchild)
      const t = xmlTextTarget(rng)
      switch (rng.weighted({ ins: 6, del: 2, fmt: 2 })) {
        case 'ins': {
          const op = { t, op: 'ins', at: rng.u32(), s: genString(rng) }
          if (rng.chance(0.4)) op.a = rng.pick(TEXT_ATTRS)
          return [op]
        }
        case 'del': return [{ t, op: 'del', at: rng.u32(), n: genLen(rng) }]
        default: return [{ t, op: 'fmt', at: rng.u32(), n: genLen(rng), a: rng.pick(FORMAT_ATTRS) }]
      }
    }
  }
}

const genOps = (rng) => {
  switch (rng.weighted({ text: 40, map: 20, array: 18, xml: 22 })) {
    case 'text': return genTextOp(rng)
    case 'map': return genMapOp(rng)
    case 'array': return genArrayOp(rng)
    default: return genXmlOp(rng)
  }
}

/**
 * @param {number} seed
 * @param {{ops?: number}} [opts]
 * @returns {{seed:number, gc:boolean, clients:number[], goMask:boolean[], steps:any[], nOps:number}}
 */
export const generate = (seed, opts = {}) => {
  const nOpsTarget = opts.ops ?? DEFAULTS.ops
  const root = new Rng(seed)
  // independent sub-streams, so that e.g. the choice of Go replicas never
  // shifts the op stream
  const setup = root.fork(1)
  const rng = root.fork(2)
  const R = setup.int(3, 5)
  const pool = CLIENT_POOL.slice()
  const clients = []
  for (let i = 0; i < R; i++) {
    if (setup.chance(0.2)) {
      // an arbitrary uint32
      let c
      do { c = setup.u32() } while (c === 0 || clients.includes(c))
      clients.push(c)
    } else {
      let c
      do { c = pool[setup.int(0, pool.length - 1)] } while (clients.includes(c))
      clients.push(c)
    }
  }
  const gc = setup.chance(0.6)
  // which replicas run in Go in the mixed run: at least one; all of them sometimes
  const goMask = clients.map(() => setup.chance(0.45))
  if (!goMask.includes(true)) goMask[setup.int(0, R - 1)] = true

  const steps = []
  const offlineUntil = new Array(R).fill(-1) // step index at which the replica comes back
  let nOps = 0
  if (rng.chance(0.75)) {
    // one replica creates the skeleton and everybody receives it
    const r = rng.int(0, R - 1)
    const ops = skeleton(rng)
    nOps += ops.length
    steps.push({ k: 'txn', r, ops })
    for (let q = 0; q < R; q++) if (q !== r) steps.push({ k: 'online', r: q, mode: 'fifo', v2: rng.chance(0.2), seed: 0 })
  }
  while (nOps < nOpsTarget) {
    const idx = steps.length
    // replicas coming back online catch up first
    for (let r = 0; r < R; r++) {
      if (offlineUntil[r] === idx) {
        offlineUntil[r] = -1
        steps.push({ k: 'online', r, mode: rng.weighted({ fifo: 3, shuffle: 2, merged: 2 }), v2: rng.chance(0.2), seed: rng.u32() })
      }
    }
    const online = []
    for (let r = 0; r < R; r++) if (offlineUntil[r] < 0) online.push(r)
    const action = rng.weighted({ txn: 44, dlv: 50, offline: 3, flush: 3 })
    if (action === 'txn') {
      const r = rng.int(0, R - 1) // offline replicas can still edit
      const ops = []
      const nGroups = rng.chance(0.75) ? 1 : rng.int(2, 4)
      for (let g = 0; g < nGroups; g++) ops.push(...genOps(rng))
      nOps += ops.length
      steps.push({ k: 'txn', r, ops })
    } else if (action === 'dlv' && online.length > 0) {
      const r = rng.pick(online)
      const mode = rng.weighted({ one: 55, dup: 8, merge: 17, split: 15, oldest: 5 })
      const step = { k: 'dlv', r, mode, u: rng.u32(), v2: rng.chance(0.2), relay: rng.chance(0.3) }
      if (mode === 'merge') step.n = rng.int(2, 5)
      if (mode === 'split') {
        step.mid = rng.u32()
        step.tailFirst = rng.chance(0.5)
        step.later = rng.chance(0.4) // the second half goes back to the queue
      }
      steps.push(step)
    } else if (action === 'offline' && online.length > 1) {
      const r = rng.pick(online)
      offlineUntil[r] = idx + rng.int(5, 40)
      steps.push({ k: 'offline', r })
    } else if (action === 'flush' && online.length > 0) {
      const r = rng.pick(online)
      steps.push({ k: 'online', r, mode: rng.weighted({ fifo: 1, shuffle: 1, merged: 1 }), v2: rng.chance(0.2), seed: rng.u32() })
    }
  }
  for (let r = 0; r < R; r++) {
    if (offlineUntil[r] >= 0) steps.push({ k: 'online', r, mode: 'fifo', v2: false, seed: 0 })
  }
  steps.push({ k: 'sync' })
  return { seed, gc, clients, goMask, steps, nOps }
}
