// Helpers of the reliability tests (kill, shutdown, storm, slow reader, bad
// input): y-websocket clients that record what the server sent them, raw
// protocol clients, token edits whose loss or duplication is detectable,
// and a /metrics reader. Not a test file itself (node --test runs only
// *.test.mjs).
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { Y, WebSocket, connect } from './helpers.mjs'

/**
 * A y-websocket client (see connect) whose socket is tapped: the text of
 * every inserted string in every update the server sends it (sync step 2
 * and update messages; Y.decodeUpdate's ContentString items) goes to
 * `onText`, by default collected in `texts`. The server persists before it
 * sends anything, so what arrives there was durable when it was sent.
 * `closes` records the close codes of the connections the server ended
 * (not those the client closed itself), `closeLog` the same with reason and
 * time (performance.now()).
 */
export const tappedConnect = (server, room, { onText, ...opts } = {}) => {
  const texts = []
  onText ??= s => texts.push(s)
  const closes = []
  const closeLog = []
  class TappedWebSocket extends WebSocket {
    constructor (...args) {
      super(...args)
      this.addEventListener('message', ev => {
        const d = decoding.createDecoder(new Uint8Array(ev.data))
        if (decoding.readVarUint(d) !== 0) return
        const t = decoding.readVarUint(d)
        if (t !== 1 && t !== 2) return
        for (const s of Y.decodeUpdate(decoding.readVarUint8Array(d)).structs) {
          if (typeof s.content?.str === 'string') onText(s.content.str)
        }
      })
    }
  }
  const c = connect(server, room, { WebSocketPolyfill: TappedWebSocket, ...opts })
  c.provider.on('connection-close', ev => {
    if (!ev) return
    closes.push(ev.code)
    closeLog.push({ code: ev.code, reason: ev.reason, at: performance.now() })
  })
  return Object.assign(c, { texts, closes, closeLog })
}

/**
 * Token edits: every edit inserts one unique token `<id.n>` into the Text
 * `name`, at a token boundary, so that the text is always a concatenation
 * of whole tokens and a lost or doubled edit shows as a missing or
 * repeated token.
 */
export class TokenWriter {
  constructor (doc, id, rnd, name = 'text') {
    this.doc = doc
    this.id = id
    this.rnd = rnd
    this.text = doc.getText(name)
    this.made = []
  }

  edit () {
    const s = this.text.toString()
    let pos = Math.floor(this.rnd() * (s.length + 1))
    if (pos > 0) pos = s.lastIndexOf('>', pos - 1) + 1
    const tok = `<${this.id}.${this.made.length}>`
    this.text.insert(pos, tok)
    this.made.push(tok)
    return tok
  }
}

const tokenRE = /<[a-z0-9]+\.\d+>/g

/** The tokens of a string; fails if it holds anything but whole tokens. */
export const tokensOf = s => {
  const toks = s.match(tokenRE) ?? []
  if (toks.join('') !== s) throw new Error(`text is not a sequence of whole tokens: ${JSON.stringify(s.slice(0, 200))}`)
  return toks
}

/** Counts of each token. */
export const countTokens = s => {
  const m = new Map()
  for (const t of tokensOf(s)) m.set(t, (m.get(t) ?? 0) + 1)
  return m
}

// y-websocket framing for raw clients.
const frame = (...parts) => {
  const e = encoding.createEncoder()
  for (const [kind, v] of parts) {
    if (kind === 'uint') encoding.writeVarUint(e, v)
    else encoding.writeVarUint8Array(e, v)
  }
  return encoding.toUint8Array(e)
}
export const msgStep1 = sv => frame(['uint', 0], ['uint', 0], ['bytes', sv])
export const msgStep2 = u => frame(['uint', 0], ['uint', 1], ['bytes', u])
export const msgUpdate = u => frame(['uint', 0], ['uint', 2], ['bytes', u])
export const msgAwareness = u => frame(['uint', 1], ['bytes', u])
export const EMPTY_SV = new Uint8Array([0])

/**
 * A raw WebSocket to a document: resolves once open, with `closed`, a
 * promise of {code, reason} of the close, and `frames`, what it received.
 */
export const rawClient = (server, room, opts = {}) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`${server.ws}/${room}`, opts)
  ws.frames = []
  ws.on('message', data => ws.frames.push(data))
  ws.closed = new Promise(resolve => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  ws.on('open', () => resolve(ws))
  ws.on('error', reject)
})

/** Reads /metrics into a Map from `name{labels}` (as written) to a number. */
export const readMetrics = async server => {
  const res = await server.fetch('/metrics')
  if (res.status !== 200) throw new Error(`/metrics: ${res.status}`)
  const m = new Map()
  for (const line of res.text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    m.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return m
}

/** The q-quantile (0..1) of numbers, nearest rank. */
export const quantile = (xs, q) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}

/**
 * Measures edit round trips from a to b (two connected clients of one
 * document) until stop() is called: a inserts a unique token into the Text
 * `field`, the round trip ends when b's copy has it. One round trip at a
 * time, `gap` ms apart. stop() resolves to the round trips in ms; one still
 * open at stop() counts with its duration so far.
 */
export const roundTrips = (a, b, { gap = 20, field = 'rtt' } = {}) => {
  const times = []
  let stopped = false
  let wake = null
  let n = 0
  const ta = a.doc.getText(field)
  const tb = b.doc.getText(field)
  const done = (async () => {
    while (!stopped) {
      const tok = `<rtt.${n++}>`
      const t0 = performance.now()
      await new Promise(resolve => {
        const check = () => {
          if (stopped || tb.toString().includes(tok)) { tb.unobserve(check); wake = null; resolve() }
        }
        wake = check
        tb.observe(check)
        ta.insert(0, tok)
        check()
      })
      times.push(performance.now() - t0)
      if (ta.length > 2000) ta.delete(0, ta.length) // the measure is the round trip, not the size
      await new Promise(resolve => setTimeout(resolve, gap))
    }
    return times
  })()
  return { stop: () => { stopped = true; wake?.(); return done }, times }
}
