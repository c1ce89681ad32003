// Pending counts the local edits the server has not confirmed yet.
//
// quire (like the reference y-websocket server) persists every update it
// receives and then broadcasts what changed to every peer of the document,
// the sender included. So an edit is confirmed when the server sends back
// its structs (or, for a deletion, the deleted range), or when the
// server's state vector (sync step 1, sent on every connect) already covers
// it. The list survives a reload in localStorage, next to the edits
// themselves, which y-indexeddb keeps.
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'

const storageKey = (name) => 'quire:pending:' + name

export class Pending {
  /**
   * @param {Y.Doc} doc
   * @param {string} name the document's name (for localStorage)
   * @param {(origin: any) => boolean} isLocal tells local transactions from remote ones
   */
  constructor (doc, name, isLocal) {
    this.doc = doc
    this.key = storageKey(name)
    /** @type {Array<{s: number[][], d: number[][]}>} s: [client, start, end]; d: [client, clock, len] */
    this.entries = load(this.key)
    /** @type {Map<number, number>} the clock up to which the server has each client */
    this.server = new Map()
    this.listeners = new Set()
    this._save = 0
    doc.on('update', (update, origin) => {
      if (!isLocal(origin)) return
      const e = summarize(update)
      if (e.s.length || e.d.length) {
        this.entries.push(e)
        this.changed()
      }
    })
  }

  get count () { return this.entries.length }

  onChange (fn) { this.listeners.add(fn) }

  changed () {
    for (const fn of this.listeners) fn(this.count)
    clearTimeout(this._save)
    this._save = setTimeout(() => save(this.key, this.entries), 50)
  }

  /** clear forgets every entry (the document was deleted). */
  clear () {
    this.entries = []
    this.changed()
    try { localStorage.removeItem(this.key) } catch {}
  }

  /** fromServer reads a sync message's payload as the server sent it. */
  fromServer (syncType, payload) {
    if (syncType === 0) {
      // step 1: the server's state vector
      for (const [client, clock] of Y.decodeStateVector(payload)) this.serverHas(client, clock)
    } else {
      // step 2 or update: structs and deletions the server has integrated
      const { structs, ds } = Y.decodeUpdate(payload)
      for (const s of structs) {
        if (!(s instanceof Y.Skip)) this.serverHas(s.id.client, s.id.clock + s.length)
      }
      for (const [client, items] of ds.clients) {
        for (const it of items) this.serverDeleted(client, it.clock, it.len)
      }
    }
    this.settle()
  }

  serverHas (client, clock) {
    if ((this.server.get(client) || 0) < clock) this.server.set(client, clock)
  }

  serverDeleted (client, clock, len) {
    for (const e of this.entries) {
      if (e.d.length) e.d = subtract(e.d, client, clock, clock + len)
    }
  }

  settle () {
    const before = this.entries.length
    this.entries = this.entries.filter((e) => {
      e.s = e.s.filter(([client, , end]) => (this.server.get(client) || 0) < end)
      return e.s.length > 0 || e.d.length > 0
    })
    if (this.entries.length !== before) this.changed()
  }
}

/** summarize reduces an update to the struct ranges and deletions it holds. */
function summarize (update) {
  const { structs, ds } = Y.decodeUpdate(update)
  const ranges = new Map()
  for (const s of structs) {
    if (s instanceof Y.Skip) continue
    const { client, clock } = s.id
    const r = ranges.get(client)
    if (r) {
      r[1] = Math.min(r[1], clock)
      r[2] = Math.max(r[2], clock + s.length)
    } else {
      ranges.set(client, [client, clock, clock + s.length])
    }
  }
  const d = []
  for (const [client, items] of ds.clients) {
    for (const it of items) d.push([client, it.clock, it.len])
  }
  return { s: [...ranges.values()], d }
}

/** subtract removes [from, to) of client from a list of deletion ranges. */
function subtract (list, client, from, to) {
  const out = []
  for (const r of list) {
    const [c, clock, len] = r
    const end = clock + len
    if (c !== client || end <= from || clock >= to) {
      out.push(r)
      continue
    }
    if (clock < from) out.push([c, clock, from - clock])
    if (end > to) out.push([c, to, end - to])
  }
  return out
}

function load (key) {
  try {
    const v = JSON.parse(localStorage.getItem(key) || '[]')
    return Array.isArray(v) ? v.filter((e) => e && Array.isArray(e.s) && Array.isArray(e.d)) : []
  } catch {
    return []
  }
}

function save (key, entries) {
  try {
    if (entries.length) localStorage.setItem(key, JSON.stringify(entries))
    else localStorage.removeItem(key)
  } catch {}
}

/**
 * watchServer makes the provider report every sync message that arrives
 * over its WebSocket (not over BroadcastChannel from another tab) to fn,
 * before the provider handles it.
 */
export function watchServer (provider, fn) {
  const handle = provider.messageHandlers[0]
  provider.messageHandlers[0] = (encoder, decoder, prov, fromSocket, messageType) => {
    if (fromSocket) {
      try {
        const d = decoding.createDecoder(decoder.arr.subarray(decoder.pos))
        const syncType = decoding.readVarUint(d)
        fn(syncType, decoding.readVarUint8Array(d))
      } catch (err) {
        console.warn('pending edits: unreadable sync message', err)
      }
    }
    handle(encoder, decoder, prov, fromSocket, messageType)
  }
}
