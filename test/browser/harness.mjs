// Test harness: builds and starts `quire serve` on loopback with a fresh
// data directory, and launches the system's Chromium through
// playwright-core (never a downloaded browser).
//
// Environment:
//   QUIRE_BIN         a quire binary to run instead of building ./cmd/quire
//   QUIRE_SERVE_ARGS  its arguments; {addr} and {data} are replaced
//                     (default: serve --addr {addr} --data {data}/quire.db)
//   CHROMIUM          the browser (default /usr/bin/chromium)
//   QUIRE_TEST_DATA_ROOT  where the data directory is made (default /dev/shm)
//   QUIRE_TEST_LOG    set to 1 to see the server's log
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, mkdirSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import { chromium } from 'playwright-core'

export const here = dirname(fileURLToPath(import.meta.url))
export const repo = join(here, '..', '..')
export const screenshots = join(here, 'screenshots')

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'
]

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** startServer builds quire (unless QUIRE_BIN is set) and serves a temp data dir. */
export async function startServer () {
  const tmp = mkdtempSync(join(tmpdir(), 'quire-browser-'))
  let bin = process.env.QUIRE_BIN
  if (!bin) {
    bin = join(tmp, 'quire')
    const t0 = Date.now()
    execFileSync('go', ['build', '-o', bin, './cmd/quire'], { cwd: repo, stdio: 'inherit' })
    console.log(`# built quire in ${Date.now() - t0} ms`)
  }
  // The data file goes on tmpfs where there is one: these tests are about
  // the pages, and a busy disk's fsync would only add noise to timings.
  const dataRoot = process.env.QUIRE_TEST_DATA_ROOT || (existsSync('/dev/shm') ? '/dev/shm' : tmp)
  const data = mkdtempSync(join(dataRoot, 'quire-data-'))
  const port = await freePort()
  const addr = `127.0.0.1:${port}`
  const args = (process.env.QUIRE_SERVE_ARGS || 'serve --addr {addr} --data {data}/quire.db')
    .split(/\s+/).filter(Boolean).map((a) => a.replaceAll('{addr}', addr).replaceAll('{data}', data))
  let log = ''
  const keep = (chunk) => {
    log = (log + chunk).slice(-20000)
    if (process.env.QUIRE_TEST_LOG) process.stderr.write(chunk)
  }
  const base = `http://${addr}`
  let proc, exited

  async function up () {
    exited = null
    proc = spawn(bin, args, {
      cwd: tmp,
      env: { ...process.env, QUIRE_LOG_LEVEL: process.env.QUIRE_LOG_LEVEL || 'warn' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    proc.stdout.on('data', keep)
    proc.stderr.on('data', keep)
    const me = proc
    me.on('exit', (code, signal) => { if (proc === me) exited = { code, signal } })
    const deadline = Date.now() + 20000
    for (;;) {
      if (exited) throw new Error(`quire exited (${JSON.stringify(exited)}) before it served:\n${log}`)
      try {
        const res = await fetch(base + '/healthz')
        if (res.ok) return
      } catch {}
      if (Date.now() > deadline) {
        proc.kill('SIGKILL')
        throw new Error(`quire did not answer /healthz within 20 s:\n${log}`)
      }
      await sleep(100)
    }
  }

  async function down () {
    if (exited) return
    proc.kill('SIGTERM')
    const t = Date.now()
    while (!exited && Date.now() - t < 10000) await sleep(50)
    if (!exited) {
      proc.kill('SIGKILL')
      while (!exited) await sleep(50)
    }
  }

  await up()
  return {
    base,
    log: () => log,
    /** down stops the server (SIGTERM, as an operator would); up starts it again on the same port and data. */
    down,
    up,
    async stop () {
      await down()
      rmSync(data, { recursive: true, force: true })
      rmSync(tmp, { recursive: true, force: true })
    }
  }
}

/** launchBrowser starts Debian's Chromium, headless, with a fresh profile. */
export async function launchBrowser () {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium'
  if (!existsSync(executablePath)) {
    throw new Error(`no browser at ${executablePath}: apt-get install -y chromium (or set CHROMIUM)`)
  }
  // playwright gives every launch a new temporary --user-data-dir.
  return chromium.launch({ executablePath, headless: true, chromiumSandbox: false, args: CHROMIUM_FLAGS, timeout: 60000 })
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** waitFor polls fn until it returns a truthy value or the time is up. */
export async function waitFor (fn, { timeout = 5000, interval = 25, message = 'condition' } = {}) {
  const t0 = Date.now()
  let last
  for (;;) {
    try {
      last = await fn()
      if (last) return last
    } catch (err) {
      last = err
    }
    if (Date.now() - t0 > timeout) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`)
    }
    await sleep(interval)
  }
}

export function screenshotPath (name) {
  mkdirSync(screenshots, { recursive: true })
  return join(screenshots, name)
}
