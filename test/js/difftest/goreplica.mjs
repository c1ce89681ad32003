// Client side of the Go peer (crdt/internal/ypeer): builds it, runs it, and
// exposes replicas with the same interface as YReplica.
//
// Protocol: JSON lines. Request {"id":N,"cmd":...}, response
// {"id":N,"ok":true,...} or {"id":N,"ok":false,"error":"..."}. Binary data is
// base64 (standard alphabet, padded).

import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname, resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

export const REPO = resolvePath(dirname(fileURLToPath(import.meta.url)), '../../..')

const b64 = (u) => Buffer.from(u).toString('base64')
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'))

/** go build the peer into a fresh temp dir; throws with the compiler output on failure. */
export const buildPeer = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ypeer-'))
  const bin = join(dir, 'ypeer')
  const res = spawnSync('go', ['build', '-o', bin, './crdt/internal/ypeer'], { cwd: REPO, encoding: 'utf8' })
  if (res.error) throw new Error(`go build ./crdt/internal/ypeer: ${res.error.message}`)
  if (res.status !== 0) {
    throw new Error(`go build ./crdt/internal/ypeer failed (exit ${res.status}):\n${res.stdout}${res.stderr}`)
  }
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export class PeerError extends Error {}

export class GoPeer {
  constructor (bin, timeout) {
    this.bin = bin
    this.timeout = timeout
    this.nextId = 1
    this.pending = new Map()
    this.stderr = ''
    this.dead = null
    this.proc = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.proc.stderr.setEncoding('utf8')
    this.proc.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-8000) })
    this.proc.stdin.on('error', () => {}) // reported through 'exit'
    this.proc.on('exit', (code, signal) => {
      this.dead ??= `Go peer exited (code ${code}, signal ${signal})`
      for (const [, p] of this.pending) p.reject(new PeerError(`${this.dead}\nstderr tail:\n${this.stderr}`))
      this.pending.clear()
    })
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      let msg
      try { msg = JSON.parse(line) } catch {
        this.stderr += `\n[bad stdout line] ${line.slice(0, 500)}`
        return
      }
      const p = this.pending.get(msg.id)
      if (!p) return
      this.pending.delete(msg.id)
      clearTimeout(p.timer)
      if (msg.ok) p.resolve(msg)
      else p.reject(new PeerError(`Go peer: ${p.cmd}: ${msg.error}`))
    })
  }

  call (cmd, args = {}) {
    if (this.dead) return Promise.reject(new PeerError(`${this.dead}\nstderr tail:\n${this.stderr}`))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new PeerError(`Go peer: ${cmd} did not answer within ${this.timeout} ms (killed)`))
        this.kill()
      }, this.timeout)
      this.pending.set(id, { resolve, reject, timer, cmd })
      this.proc.stdin.write(JSON.stringify({ id, cmd, ...args }) + '\n')
    })
  }

  kill () {
    if (this.dead) return
    this.proc.kill('SIGKILL')
    this.dead = 'Go peer killed'
    for (const [, p] of this.pending) {
      clearTimeout(p.timer)
      p.reject(new PeerError(`${this.dead}\nstderr tail:\n${this.stderr}`))
    }
    this.pending.clear()
  }

  async close () {
    if (this.dead) return
    this.proc.stdin.end()
    await new Promise((resolve) => {
      const t = setTimeout(() => { this.kill(); resolve() }, 2000)
      this.proc.on('exit', () => { clearTimeout(t); resolve() })
    })
  }
}

let replicaSeq = 0

export class GoReplica {
  constructor (peer, index) {
    this.peer = peer
    this.index = index
    this.impl = 'go'
    this.name = `r${index}-${++replicaSeq}`
  }

  static async create (peer, index, clientID, gc) {
    const rep = new GoReplica(peer, index)
    await peer.call('new', { replica: rep.name, clientID, gc })
    return rep
  }

  async txn (ops) {
    const res = await this.peer.call('txn', { replica: this.name, ops })
    return (res.updates || []).map(unb64)
  }

  async apply (update, v2) {
    const res = await this.peer.call('apply', { replica: this.name, update: b64(update), v2: !!v2 })
    return (res.updates || []).map(unb64)
  }

  async sv () {
    return unb64((await this.peer.call('sv', { replica: this.name })).sv)
  }

  async diff (sv, v2) {
    return unb64((await this.peer.call('diff', { replica: this.name, sv: b64(sv), v2: !!v2 })).update)
  }

  async state () {
    const res = await this.peer.call('state', { replica: this.name })
    return { v1: unb64(res.v1), v2: unb64(res.v2), sv: unb64(res.sv), json: res.json }
  }

  async close () {
    if (!this.peer.dead) await this.peer.call('drop', { replica: this.name }).catch(() => {})
  }
}
