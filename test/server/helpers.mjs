// Shared helpers of the server end-to-end tests: build the quire binary,
// run it on loopback with a temporary data file, and connect real yjs +
// y-websocket clients to it (ws as the WebSocket of Node).
import { after } from 'node:test'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

export { Y, WebSocket }

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const exitHooks = []
process.on('exit', () => { for (const f of exitHooks) f() })

/** A temporary directory, removed at exit. */
export const tempDir = (prefix = 'quire-e2e-') => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  exitHooks.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

let bin = null
/**
 * The quire binary: $QUIRE_BIN if set (the Makefile can build it once),
 * else built from this checkout into a temporary directory, once per
 * process.
 */
export const quireBinary = () => {
  if (process.env.QUIRE_BIN) return process.env.QUIRE_BIN
  if (bin === null) {
    const out = path.join(tempDir('quire-bin-'), 'quire')
    execFileSync('go', ['build', '-o', out, './cmd/quire'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 })
    bin = out
  }
  return bin
}

const servers = new Set()
exitHooks.push(() => { for (const s of servers) s.proc.kill('SIGKILL') })

/** A running `quire serve`. */
export class Server {
  /**
   * Starts the server on 127.0.0.1 (a free port unless addr is given)
   * with the data file `data`, and waits until it listens.
   */
  static async start ({ data, addr = '127.0.0.1:0', args = [], timeout = 30_000 } = {}) {
    const s = new Server()
    s.logs = []
    s.proc = spawn(quireBinary(), ['serve', '--addr', addr, '--data', data, '--log-format', 'json', '--log-level', 'info', ...args], {
      stdio: ['ignore', 'ignore', 'pipe']
    })
    servers.add(s)
    s.exited = new Promise(resolve => s.proc.on('exit', (code, signal) => { servers.delete(s); resolve({ code, signal }) }))
    let buf = ''
    s.addr = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('quire serve did not start:\n' + s.logs.join('\n'))), timeout)
      s.proc.stderr.setEncoding('utf8')
      s.proc.stderr.on('data', chunk => {
        buf += chunk
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i)
          buf = buf.slice(i + 1)
          s.logs.push(line)
          try {
            const j = JSON.parse(line)
            if (j.message === 'listening') { clearTimeout(timer); resolve(j.addr) }
          } catch {}
        }
      })
      s.exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`quire serve exited (${code ?? signal}):\n` + s.logs.join('\n'))) })
    })
    s.http = `http://${s.addr}`
    s.ws = `ws://${s.addr}/ws`
    return s
  }

  /** Sends signal and waits for the exit: {code, signal}. */
  async stop (signal = 'SIGTERM', timeout = 30_000) {
    this.proc.kill(signal)
    return withTimeout(this.exited, timeout, `quire serve did not exit on ${signal}`)
  }

  /** An HTTP request to the server: {status, type, text, body (Buffer)}. */
  async fetch (p, init = {}) {
    const res = await fetch(this.http + p, init)
    const body = Buffer.from(await res.arrayBuffer())
    return { status: res.status, type: res.headers.get('content-type'), body, text: body.toString('utf8') }
  }
}

// Whatever a test leaves open is closed when its file ends, so that a
// failing test fails instead of keeping the process alive: a provider and
// its awareness hold intervals (servers are killed at exit).
const providers = new Set()
const destroy = p => {
  providers.delete(p)
  p.destroy()
  p.awareness.destroy() // y-websocket leaves the awareness's own timer running
}
after(() => { for (const p of providers) destroy(p) })

/** A y-websocket client: a Y.Doc and its provider. */
export const connect = (server, room, { doc = new Y.Doc(), ...opts } = {}) => {
  // disableBc: Node has BroadcastChannel, and clients of one process would
  // otherwise sync through it instead of through the server.
  const provider = new WebsocketProvider(typeof server === 'string' ? server : server.ws, room, doc,
    { WebSocketPolyfill: WebSocket, disableBc: true, ...opts })
  providers.add(provider)
  return { doc, provider, awareness: provider.awareness }
}

export const withTimeout = (promise, ms, what) => {
  let timer
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms) })
  ])
}

/** Polls cond every 20 ms until it is true; fails loudly after ms. */
export const until = async (cond, ms, what) => {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(20)
  }
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

export const synced = (c, ms = 10_000) => until(() => c.provider.synced, ms, 'the client to sync')

/** Destroys clients (closes their connections, stops their timers). */
export const closeAll = (...clients) => { for (const c of clients) destroy(c.provider) }

/** A seeded PRNG (mulberry32), so that a failing run can be replayed. */
export const prng = seed => () => {
  seed |= 0; seed = seed + 0x6D2B79F5 | 0
  let t = Math.imul(seed ^ seed >>> 15, 1 | seed)
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
  return ((t ^ t >>> 14) >>> 0) / 4294967296
}

/** JSON with object keys sorted, to compare documents whatever the order in which keys were set. */
export const canon = v => JSON.stringify(v, (_, x) =>
  x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) : x)

// A test that fails before stopping its server would otherwise keep the
// file's process alive (the server's stderr pipe) until the runner's
// timeout: once the file's tests are done, whatever still runs 10 s later
// (time for a file's own after hooks to stop their servers) is killed.
after(() => { setTimeout(() => { for (const s of servers) s.proc.kill('SIGKILL') }, 10_000).unref() })
