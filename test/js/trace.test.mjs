// Replays the editing traces in crdt/testdata/traces with yjs and with
// quire's crdt (crdt/internal/tracereplay) and requires the same bytes:
// every per-transaction update and the final state. One local transaction
// per trace transaction, as an editor would produce them; a single
// differing origin anywhere in ~260k keystrokes fails the test.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { createHash } from 'node:crypto'
import { join, dirname, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const DIR = join(REPO, 'crdt/testdata/traces')

const tmp = mkdtempSync(join(tmpdir(), 'quire-trace-'))
const bin = join(tmp, 'tracereplay')
execFileSync('go', ['build', '-o', bin, './crdt/internal/tracereplay'], { cwd: REPO, stdio: 'inherit' })
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))

for (const file of readdirSync(DIR).filter(f => f.endsWith('.json.gz')).sort()) {
  test(`trace ${file}: quire's updates are yjs's, byte for byte`, () => {
    const path = join(DIR, file)
    const tr = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'))
    const doc = new Y.Doc()
    doc.clientID = 1
    const text = doc.getText('text')
    const h = createHash('sha256')
    let n = 0
    doc.on('update', (u) => { h.update(u); n++ })
    for (const txn of tr.txns) {
      doc.transact(() => {
        for (const [pos, del, ins] of txn.patches) {
          if (del > 0) text.delete(pos, del)
          if (ins !== '') text.insert(pos, ins)
        }
      })
    }
    assert.equal(text.toString(), tr.endContent)
    const want = {
      updates: n,
      updatesHash: h.digest('hex'),
      stateHash: createHash('sha256').update(Y.encodeStateAsUpdate(doc)).digest('hex'),
      textOK: true
    }
    const got = JSON.parse(execFileSync(bin, [path], { encoding: 'utf8', maxBuffer: 1 << 20 }))
    assert.deepEqual(got, want)
  })
}
