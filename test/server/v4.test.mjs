// End-to-end with the y-websocket v4 release candidate (@y/websocket on
// @y/y 14, where doc.get(name) stands for getText), alone and next to a
// y-websocket 3 / yjs 13 client in the same document.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import * as Y14 from '@y/y'
import { WebsocketProvider as Provider4 } from '@y/websocket'
import { Server, connect, closeAll, until, synced, tempDir, WebSocket } from './helpers.mjs'

let server
before(async () => { server = await Server.start({ data: path.join(tempDir(), 'quire.db') }) })

const providers4 = []
const connect4 = room => {
  const doc = new Y14.Doc()
  const provider = new Provider4(server.ws, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  providers4.push(provider)
  return { doc, provider, awareness: provider.awareness, text: () => doc.get('text').toString() }
}
const close4 = () => { for (const p of providers4.splice(0)) { p.destroy(); p.awareness.destroy() } }

test('v4 clients sync, see awareness, and their edits export over REST', { timeout: 60_000 }, async () => {
  const a = connect4('v4')
  const b = connect4('v4')
  await until(() => a.provider.synced && b.provider.synced, 10_000, 'the v4 clients to sync')
  a.doc.get('text').insert(0, 'from a ')
  b.doc.get('text').insert(0, 'from b ')
  await until(() => a.text() === b.text() && a.text().length === 14, 10_000, 'the v4 clients to converge')
  a.awareness.setLocalStateField('user', { name: 'four' })
  await until(() => b.awareness.getStates().get(a.doc.clientID)?.user?.name === 'four', 10_000, 'awareness')
  const res = await server.fetch('/api/v1/docs/v4/export?format=text&field=text')
  assert.equal(res.text, a.text())
  close4()
})

test('a v4 client and a v3 client edit one document together', { timeout: 60_000 }, async () => {
  const a = connect4('mixed')
  const b = connect(server, 'mixed')
  await until(() => a.provider.synced, 10_000, 'the v4 client to sync')
  await synced(b)
  a.doc.get('text').insert(0, 'v4 ')
  b.doc.getText('text').insert(0, 'v3 ')
  await until(() => a.text() === b.doc.getText('text').toString() && a.text().length === 6, 10_000, 'the clients to converge')
  const res = await server.fetch('/api/v1/docs/mixed/export?format=text&field=text')
  assert.equal(res.text, a.text())
  close4()
  closeAll(b)
  assert.equal((await server.stop('SIGTERM')).code, 0)
})
