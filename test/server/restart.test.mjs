// End-to-end: restarting the server (SIGTERM, and SIGKILL) loses nothing
// and doubles nothing, and clients reconnect by themselves.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Server, connect, closeAll, until, synced, tempDir, canon, WebSocket } from './helpers.mjs'

const textOf = c => c.doc.getText('text').toString()
const stateOf = c => canon({ text: textOf(c), map: c.doc.getMap('map').toJSON() })

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`restart after ${signal}: all content back, nothing doubled, clients resync`, { timeout: 90_000 }, async () => {
    const data = path.join(tempDir(), 'quire.db')
    let server = await Server.start({ data })
    const clients = Array.from({ length: 3 }, () => connect(server, 'durable', { maxBackoffTime: 300 }))
    await Promise.all(clients.map(c => synced(c)))
    for (let i = 0; i < 30; i++) {
      const c = clients[i % 3]
      c.doc.getText('text').insert(0, `edit${i};`)
      c.doc.getMap('map').set(`k${i}`, i)
    }
    // Every edit reached every client: the server broadcasts only what is
    // on disk, so all of it is durable now.
    await until(() => new Set(clients.map(stateOf)).size === 1, 20_000, 'the clients to converge')
    const want = stateOf(clients[0])
    const addr = server.addr

    // A raw peer to see the close code of a graceful stop.
    const raw = new WebSocket(`${server.ws}/durable`)
    await new Promise((resolve, reject) => { raw.on('open', resolve); raw.on('error', reject) })
    const rawClosed = new Promise(resolve => raw.on('close', code => resolve(code)))

    // The clients go away before the restart, so that what the new server
    // has comes from the disk, not from their resync.
    for (const c of clients) c.provider.disconnect()
    const exit = await server.stop(signal)
    if (signal === 'SIGTERM') {
      assert.equal(exit.code, 0, 'exit 0 on SIGTERM:\n' + server.logs.join('\n'))
      assert.equal(await rawClosed, 1001, 'peers are closed with 1001 on shutdown')
    } else {
      assert.equal(exit.signal, 'SIGKILL')
    }

    server = await Server.start({ data, addr })
    const fresh = connect(server, 'durable')
    await synced(fresh)
    assert.equal(stateOf(fresh), want, 'a fresh client gets everything from disk')
    const text = await server.fetch('/api/v1/docs/durable/export?format=text&field=text')
    assert.equal(text.text, textOf(clients[0]))

    // The old clients reconnect to the same address and resync: their
    // state is already there, nothing is doubled.
    for (const c of clients) c.provider.connect()
    await Promise.all(clients.map(c => synced(c)))
    clients[0].doc.getText('text').insert(0, 'after;')
    await until(() => new Set([...clients, fresh].map(stateOf)).size === 1, 20_000, 'everyone to converge after the restart')
    assert.equal(textOf(fresh), 'after;' + JSON.parse(want).text, 'nothing doubled')
    closeAll(...clients, fresh)
    const { code } = await server.stop('SIGTERM')
    assert.equal(code, 0)
  })
}

test('clients that stay connected through a restart reconnect and lose nothing', { timeout: 90_000 }, async () => {
  const data = path.join(tempDir(), 'quire.db')
  let server = await Server.start({ data })
  const a = connect(server, 'reconnect', { maxBackoffTime: 300 })
  const b = connect(server, 'reconnect', { maxBackoffTime: 300 })
  await Promise.all([synced(a), synced(b)])
  a.doc.getText('text').insert(0, 'before ')
  await until(() => textOf(b) === 'before ', 10_000, 'b to see a')
  const addr = server.addr
  await server.stop('SIGKILL')
  a.doc.getText('text').insert(7, 'during ') // made while the server is down
  server = await Server.start({ data, addr })
  await until(() => textOf(b) === 'before during ', 20_000, 'the reconnected clients to merge')
  const text = await server.fetch('/api/v1/docs/reconnect/export?format=text&field=text')
  assert.equal(text.text, 'before during ')
  closeAll(a, b)
  assert.equal((await server.stop('SIGTERM')).code, 0)
})
