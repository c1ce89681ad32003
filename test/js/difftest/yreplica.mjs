// A replica backed by real yjs in this process, and the yjs interpretation of
// the op language (see ops.md; crdt/internal/ypeer/main.go mirrors it).

import * as Y from 'yjs'
import { fracIndex, fracElem } from './prng.mjs'

export const ROOTS = ['text', 'map', 'array', 'xml']

/** Create a doc with a fixed client id and all four roots instantiated. */
export const newDoc = (clientID, gc) => {
  // a fixed guid: generating a random one costs 36 crypto calls per doc
  const doc = new Y.Doc({ gc, guid: 'difftest' })
  doc.clientID = clientID
  doc.getText('text')
  doc.getMap('map')
  doc.getArray('array')
  doc.getXmlFragment('xml')
  return doc
}

const root = (doc, name) => {
  switch (name) {
    case 'text': return doc.getText('text')
    case 'map': return doc.getMap('map')
    case 'array': return doc.getArray('array')
    case 'xml': return doc.getXmlFragment('xml')
  }
  throw new Error('bad root ' + name)
}

// kind of a resolved value: 'text' | 'xmltext' | 'map' | 'array' | 'frag' | 'elem' | null
const kindOf = (v) => {
  if (v instanceof Y.XmlText) return 'xmltext'
  if (v instanceof Y.Text) return 'text'
  if (v instanceof Y.XmlElement) return 'elem'
  if (v instanceof Y.XmlFragment) return 'frag'
  if (v instanceof Y.Array) return 'array'
  if (v instanceof Y.XmlHook) return null
  if (v instanceof Y.Map) return 'map'
  return null
}

const wants = (kind, w) => w === 'text' ? (kind === 'text' || kind === 'xmltext') : kind === w

/**
 * Walk a path; returns the type or null when it does not resolve.
 * {k: key} on a Map: the key's value. {i: u, w: want} on an Array,
 * XmlFragment or XmlElement: among the live children of kind `want`, the
 * one at fracElem(u, count).
 */
export const resolve = (doc, path) => {
  let cur = root(doc, path[0])
  for (let s = 1; s < path.length; s++) {
    const step = path[s]
    const kind = kindOf(cur)
    let next
    if ('k' in step) {
      if (kind !== 'map') return null
      next = cur.get(step.k)
    } else {
      if (kind !== 'array' && kind !== 'frag' && kind !== 'elem') return null
      const cands = cur.toArray().filter(c => wants(kindOf(c), step.w))
      if (cands.length === 0) return null
      next = cands[fracElem(step.i, cands.length)]
    }
    if (kindOf(next) === null) return null
    cur = next
  }
  return cur
}

const clone = (v) => v === undefined ? undefined : structuredClone(v)

const newType = (y) => {
  switch (y) {
    case 'text': return new Y.Text()
    case 'map': return new Y.Map()
    case 'array': return new Y.Array()
  }
  throw new Error('bad type ' + y)
}

const toContent = (v) => ('y' in v) ? newType(v.y) : clone(v.j)

/**
 * Apply one op to a doc (inside the caller's transaction). Ops whose path
 * does not resolve, or resolves to the wrong kind, are no-ops.
 */
export const applyOp = (doc, op) => {
  const t = resolve(doc, op.t)
  if (t === null) return
  const kind = kindOf(t)
  const isText = kind === 'text' || kind === 'xmltext'
  const isList = kind === 'array' || kind === 'frag' || kind === 'elem'
  switch (op.op) {
    case 'ins':
      if (!isText) return
      // yjs mutates the attributes object it is given: always pass a copy
      t.insert(fracIndex(op.at, t.length), op.s, clone(op.a))
      return
    case 'emb':
      if (!isText) return
      t.insertEmbed(fracIndex(op.at, t.length), clone(op.e), clone(op.a))
      return
    case 'fmt': {
      if (!isText) return
      const len = t.length
      const i = fracIndex(op.at, len)
      const n = Math.min(op.n, len - i)
      if (n > 0) t.format(i, n, clone(op.a))
      return
    }
    case 'del': {
      if (!isText && !isList) return
      const len = t.length
      const i = fracIndex(op.at, len)
      const n = Math.min(op.n, len - i)
      if (n > 0) t.delete(i, n)
      return
    }
    case 'set':
      if (kind !== 'map') return
      t.set(op.k, toContent(op.v))
      return
    case 'unset':
      if (kind !== 'map') return
      t.delete(op.k)
      return
    case 'push':
      if (kind !== 'array') return
      t.insert(fracIndex(op.at, t.length), op.v.map(toContent))
      return
    case 'xins':
      if (kind !== 'frag' && kind !== 'elem') return
      t.insert(fracIndex(op.at, t.length), op.nodes.map(n => ('e' in n) ? new Y.XmlElement(n.e) : new Y.XmlText()))
      return
    case 'attr':
      if (kind !== 'elem') return
      t.setAttribute(op.k, clone(op.v))
      return
    case 'rmattr':
      if (kind !== 'elem') return
      t.removeAttribute(op.k)
      return
  }
  throw new Error('bad op ' + op.op)
}

/** Roots as toJSON gives them (Text: plain string, XmlFragment: XML string). */
export const docJSON = (doc) => {
  const out = {}
  for (const name of ROOTS) out[name] = root(doc, name).toJSON()
  return out
}

/** A richer view than toJSON, for diagnostics: text deltas included. */
export const docView = (doc) => {
  const deep = (v) => {
    switch (kindOf(v)) {
      case 'text': case 'xmltext': return { delta: v.toDelta() }
      case 'map': { const o = {}; for (const [k, x] of [...v.entries()].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) o[k] = deep(x); return o }
      case 'array': return v.toArray().map(deep)
      case 'frag': return { xml: v.toArray().map(deep) }
      case 'elem': return { el: v.nodeName, attrs: v.getAttributes(), children: v.toArray().map(deep) }
    }
    return v
  }
  const out = {}
  for (const name of ROOTS) out[name] = deep(root(doc, name))
  return out
}

export class YReplica {
  constructor (index, clientID, gc) {
    this.index = index
    this.impl = 'yjs'
    this.doc = newDoc(clientID, gc)
    this.out = []
    this.doc.on('update', (u) => { this.out.push(u) })
  }

  #take () {
    const o = this.out
    this.out = []
    return o
  }

  async txn (ops) {
    this.doc.transact(() => { for (const op of ops) applyOp(this.doc, op) })
    return this.#take()
  }

  async apply (update, v2) {
    if (v2) Y.applyUpdateV2(this.doc, update)
    else Y.applyUpdate(this.doc, update)
    return this.#take()
  }

  async sv () {
    return Y.encodeStateVector(this.doc)
  }

  async diff (sv, v2) {
    return v2 ? Y.encodeStateAsUpdateV2(this.doc, sv) : Y.encodeStateAsUpdate(this.doc, sv)
  }

  async state () {
    return {
      v1: Y.encodeStateAsUpdate(this.doc),
      v2: Y.encodeStateAsUpdateV2(this.doc),
      sv: Y.encodeStateVector(this.doc),
      json: docJSON(this.doc)
    }
  }

  async close () {
    this.doc.destroy()
  }
}
