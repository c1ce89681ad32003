// End-to-end: real yjs + y-websocket clients against the quire binary.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Server, connect, closeAll, until, synced, sleep, prng, tempDir, canon, Y, WebSocket } from './helpers.mjs'

const SEED = Number(process.env.QUIRE_E2E_SEED || 1)
let server

before(async () => {
  server = await Server.start({ data: path.join(tempDir(), 'quire.db') })
})


const textOf = c => c.doc.getText('text').toString()
const stateOf = c => canon({ text: textOf(c), map: c.doc.getMap('map').toJSON() })

test('5 clients edit text and map concurrently and converge; REST export matches', { timeout: 60_000 }, async () => {
  const clients = Array.from({ length: 5 }, () => connect(server, 'converge'))
  await Promise.all(clients.map(c => synced(c)))
  const rnd = prng(SEED)
  // Rounds of concurrent edits: every client edits before it sees the
  // others' edits of the round.
  for (let round = 0; round < 20; round++) {
    for (const [i, c] of clients.entries()) {
      c.doc.transact(() => {
        const t = c.doc.getText('text')
        const pos = Math.floor(rnd() * (t.length + 1))
        if (t.length > 0 && rnd() < 0.3) {
          t.delete(Math.min(pos, t.length - 1), 1 + Math.floor(rnd() * Math.min(3, t.length - Math.min(pos, t.length - 1))))
        } else {
          t.insert(pos, `c${i}r${round}é😀 `)
        }
        c.doc.getMap('map').set(`k${Math.floor(rnd() * 8)}`, { by: i, round, n: rnd() })
      })
    }
    await sleep(Math.floor(rnd() * 30))
  }
  await until(() => new Set(clients.map(stateOf)).size === 1, 20_000, 'the clients to converge')
  const want = clients[0]
  assert.ok(textOf(want).length > 100, 'the edits are there')

  const text = await server.fetch('/api/v1/docs/converge/export?format=text&field=text')
  assert.equal(text.status, 200)
  assert.equal(text.text, textOf(want))
  const json = await server.fetch('/api/v1/docs/converge/export?format=json')
  assert.equal(json.status, 200)
  assert.deepEqual(JSON.parse(json.text), want.doc.toJSON())
  // The full state as a Yjs update loads into the same document.
  const yjs = await server.fetch('/api/v1/docs/converge/export?format=yjs')
  const copy = new Y.Doc()
  Y.applyUpdate(copy, new Uint8Array(yjs.body))
  assert.equal(copy.getText('text').toString(), textOf(want))
  // A state vector diff holds nothing the client lacks.
  const sv = Buffer.from(Y.encodeStateVector(want.doc)).toString('base64url')
  const diff = await server.fetch(`/api/v1/docs/converge/export?format=yjs&sv=${sv}`)
  const again = new Y.Doc()
  Y.applyUpdate(again, Y.encodeStateAsUpdate(want.doc))
  Y.applyUpdate(again, new Uint8Array(diff.body))
  assert.equal(again.getText('text').toString(), textOf(want))

  const list = await server.fetch('/api/v1/docs')
  const info = JSON.parse(list.text).docs.find(d => d.name === 'converge')
  assert.equal(info.peers, 5)
  assert.ok(info.size > 0)
  closeAll(...clients)
})

test('a client edits offline, comes back, and both sides are merged everywhere', { timeout: 60_000 }, async () => {
  const a = connect(server, 'offline')
  const b = connect(server, 'offline')
  await Promise.all([synced(a), synced(b)])
  a.doc.getText('text').insert(0, 'shared ')
  await until(() => textOf(b) === 'shared ', 10_000, 'b to see the shared text')
  a.provider.disconnect()
  a.doc.getText('text').insert(7, 'offline-a ')
  a.doc.getMap('map').set('a', 1)
  b.doc.getText('text').insert(0, 'online-b ')
  b.doc.getMap('map').set('b', 2)
  await sleep(300)
  assert.ok(!textOf(b).includes('offline-a'), 'the offline edit stays local')
  a.provider.connect()
  await until(() => stateOf(a) === stateOf(b), 15_000, 'a and b to merge')
  assert.match(textOf(a), /online-b/)
  assert.match(textOf(a), /offline-a/)
  assert.deepEqual(a.doc.getMap('map').toJSON(), { a: 1, b: 2 })
  const c = connect(server, 'offline') // a newcomer gets the merge
  await until(() => stateOf(c) === stateOf(a), 10_000, 'a newcomer to get the merged state')
  const text = await server.fetch('/api/v1/docs/offline/export?format=text&field=text')
  assert.equal(text.text, textOf(a))
  closeAll(a, b, c)
})

test('awareness propagates, and a closed client disappears for the others', { timeout: 60_000 }, async () => {
  const a = connect(server, 'presence')
  const b = connect(server, 'presence')
  await Promise.all([synced(a), synced(b)])
  a.awareness.setLocalStateField('user', { name: 'Ada', color: '#f00' })
  b.awareness.setLocalStateField('user', { name: 'Bob' })
  const aID = a.doc.clientID
  const bID = b.doc.clientID
  await until(() => b.awareness.getStates().get(aID)?.user?.name === 'Ada', 10_000, 'b to see Ada')
  await until(() => a.awareness.getStates().get(bID)?.user?.name === 'Bob', 10_000, 'a to see Bob')
  // A newcomer is sent the states on connect.
  const c = connect(server, 'presence')
  await until(() => c.awareness.getStates().get(aID)?.user?.name === 'Ada' &&
    c.awareness.getStates().get(bID)?.user?.name === 'Bob', 10_000, 'the newcomer to see both')
  // A client that closes cleanly...
  a.provider.destroy()
  await until(() => !b.awareness.getStates().has(aID) && !c.awareness.getStates().has(aID), 10_000, "Ada's state to disappear")
  // ...and one whose connection just drops.
  b.provider.ws.terminate()
  b.provider.disconnect()
  await until(() => !c.awareness.getStates().has(bID), 10_000, "Bob's state to disappear")
  closeAll(b, c)
})

test('bad input closes that connection only (1007), the others carry on', { timeout: 60_000 }, async () => {
  const good = connect(server, 'isolation')
  await synced(good)
  const raw = new WebSocket(`${server.ws}/isolation`)
  await new Promise((resolve, reject) => { raw.on('open', resolve); raw.on('error', reject) })
  const closed = new Promise(resolve => raw.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  raw.send(Buffer.from([0x00, 0x02, 0x05, 0x01])) // an update that claims 5 bytes and has 1
  const { code, reason } = await closed
  assert.equal(code, 1007)
  assert.ok(reason.length > 0, 'the close has a reason')
  good.doc.getText('text').insert(0, 'still fine')
  const other = connect(server, 'isolation')
  await until(() => textOf(other) === 'still fine', 10_000, 'the document to keep working')
  closeAll(good, other)
})

test('a REST import appears live in a connected client', { timeout: 60_000 }, async () => {
  const a = connect(server, 'imported')
  await synced(a)
  a.doc.getText('text').insert(0, 'typed by the client')
  await until(async () => (await server.fetch('/api/v1/docs/imported/export?format=text&field=text')).text === 'typed by the client',
    10_000, 'the server to have the typing')
  let res = await server.fetch('/api/v1/docs/imported?field=text', {
    method: 'PUT', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'hello from REST'
  })
  assert.equal(res.status, 200, res.text)
  await until(() => textOf(a) === 'hello from REST', 10_000, 'the import to reach the client')
  // A raw update from another replica, POSTed.
  const other = new Y.Doc()
  Y.applyUpdate(other, Y.encodeStateAsUpdate(a.doc))
  other.getMap('map').set('via', 'POST')
  res = await server.fetch('/api/v1/docs/imported/updates', {
    method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Y.encodeStateAsUpdate(other, Y.encodeStateVector(a.doc))
  })
  assert.equal(res.status, 204, res.text)
  await until(() => a.doc.getMap('map').get('via') === 'POST', 10_000, 'the update to reach the client')
  // A Markdown import into a Tiptap-style fragment.
  res = await server.fetch('/api/v1/docs/imported?field=prose', {
    method: 'PUT', headers: { 'content-type': 'text/markdown' }, body: '# Title\n\nSome *text*.\n'
  })
  assert.equal(res.status, 200, res.text)
  await until(() => a.doc.getXmlFragment('prose').length === 2, 10_000, 'the markdown to reach the client')
  const md = await server.fetch('/api/v1/docs/imported/export?format=markdown&field=prose')
  assert.equal(md.text, '# Title\n\nSome *text*.\n')
  // Errors are JSON.
  res = await server.fetch('/api/v1/docs/imported/updates', { method: 'POST', body: Buffer.from([1, 2, 3]) })
  assert.equal(res.status, 400)
  assert.ok(JSON.parse(res.text).error)
  closeAll(a)
})

test("a client's resync interval is answered and doubles nothing", { timeout: 60_000 }, async () => {
  // y-websocket 3.1's resync timer reads the global WebSocket.OPEN, which
  // Node 20 lacks.
  globalThis.WebSocket ??= WebSocket
  const a = connect(server, 'resync', { resyncInterval: 50 })
  const b = connect(server, 'resync')
  await Promise.all([synced(a), synced(b)])
  a.doc.getText('text').insert(0, 'steady')
  await until(() => textOf(b) === 'steady', 10_000, 'b to see a')
  await sleep(500) // ten resyncs
  assert.equal(textOf(a), 'steady')
  assert.equal(textOf(b), 'steady')
  const res = await server.fetch('/api/v1/docs/resync')
  assert.equal(JSON.parse(res.text).logCount, 1, 'resync step 2s that add nothing are not stored')
  closeAll(a, b)
})

test('SIGTERM stops the server with exit code 0', { timeout: 60_000 }, async () => {
  const { code } = await server.stop('SIGTERM')
  assert.equal(code, 0, 'quire serve exits 0 on SIGTERM:\n' + server.logs.join('\n'))
  assert.ok(server.logs.some(l => JSON.parse(l).message === 'stopped'), 'a stop log line')
})
