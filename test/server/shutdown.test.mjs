// Reliability: SIGTERM under editing load. Every update the server had
// accepted is on disk after the restart, every peer is closed with 1001,
// the process exits 0. Three rounds on one data file. Figures:
// docs/reliability.md.
//
// Clients insert unique tokens (see load.mjs); an update counts as accepted
// once the server has sent it to any client (echo or broadcast), which it
// does only after persisting it. Between the stop and the restart the
// clients are disconnected, so that what the new server has comes from the
// disk alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Server, until, sleep, prng, tempDir, closeAll, synced } from './helpers.mjs'
import { tappedConnect, TokenWriter, tokensOf, countTokens, rawClient, msgStep1, EMPTY_SV } from './load.mjs'

const SEED = Number(process.env.QUIRE_E2E_SEED || 1)
const ROUNDS = 3
const DOCS = ['term-a', 'term-b']
const PER_DOC = 3

test('SIGTERM under load: accepted updates flushed, peers get 1001, exit 0', { timeout: 90_000 }, async t => {
  const rnd = prng(SEED)
  const data = path.join(tempDir(), 'quire.db')
  let server = await Server.start({ data })
  const addr = server.addr
  const confirmed = Object.fromEntries(DOCS.map(room => [room, new Set()]))
  const clients = []
  for (const [d, room] of DOCS.entries()) {
    for (let i = 0; i < PER_DOC; i++) {
      const c = tappedConnect(server, room, { maxBackoffTime: 100, onText: s => { for (const tok of tokensOf(s)) confirmed[room].add(tok) } })
      c.room = room
      c.writer = new TokenWriter(c.doc, `d${d}c${i}`, prng(SEED * 100 + d * 10 + i))
      clients.push(c)
    }
  }
  let editing = true
  t.after(() => { editing = false }) // a failed assertion must not leave the loops running
  const loops = clients.map(async c => {
    const r = prng(SEED * 7 + c.doc.clientID)
    while (editing) {
      c.writer.edit()
      await sleep(3 + Math.floor(r() * 6))
    }
  })
  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    await until(() => clients.every(c => c.provider.synced), 20_000, 'the clients to sync')
    const roundStart = performance.now()
    await sleep(300 + Math.floor(rnd() * 700))
    // Every client must still be connected when the signal comes; if one
    // is not, say why (the server's warnings, the client's closes).
    const notConnected = clients.filter(c => !c.provider.wsconnected)
    assert.deepEqual(notConnected.map(c => c.writer.id), [], `round ${round + 1}: clients not connected at the signal: ` +
      JSON.stringify(notConnected.map(c => c.closeLog.filter(e => e.at >= roundStart))) + '\n' +
      server.logs.filter(l => /"level":"(warn|error)"/.test(l)).slice(-10).join('\n'))
    for (const c of clients) c.closes.length = 0
    const t0 = performance.now()
    const exit = await server.stop('SIGTERM')
    const stopMs = performance.now() - t0
    assert.equal(exit.code, 0, 'exit 0 on SIGTERM:\n' + server.logs.slice(-20).join('\n'))
    assert.ok(server.logs.some(l => JSON.parse(l).message === 'stopped'), 'a "stopped" log line')
    // Every client was connected (synced) when the signal came; each must
    // have been closed by the server with 1001.
    await until(() => clients.every(c => c.closes.length > 0), 5_000, 'every client to see its close')
    for (const c of clients) c.provider.disconnect()
    assert.deepEqual(clients.map(c => c.closes[0]), clients.map(() => 1001), `round ${round + 1}: peers are closed with 1001; ` +
      `closes after the signal: ${JSON.stringify(clients.map(c => c.closeLog.filter(e => e.at >= t0).map(e => [e.code, e.reason, Math.round(e.at - t0)])))}`)
    const accepted = Object.fromEntries(DOCS.map(room => [room, new Set(confirmed[room])]))

    server = await Server.start({ data, addr })
    let onDisk = 0
    let unechoed = 0
    for (const room of DOCS) {
      const res = await server.fetch(`/api/v1/docs/${room}/export?format=text&field=text`)
      assert.equal(res.status, 200, res.text)
      const counts = countTokens(res.text)
      const lost = [...accepted[room]].filter(tok => !counts.has(tok))
      assert.deepEqual(lost, [], `round ${round + 1}: accepted updates missing from ${room} after the restart`)
      assert.deepEqual([...counts].filter(([, n]) => n > 1), [], `round ${round + 1}: doubled in ${room}`)
      onDisk += counts.size
      unechoed += [...counts.keys()].filter(tok => !accepted[room].has(tok)).length
    }
    const made = clients.reduce((n, c) => n + c.writer.made.length, 0)
    rounds.push({ made, accepted: DOCS.reduce((n, r) => n + accepted[r].size, 0), onDisk, onDiskNotEchoed: unechoed, stopMs: Math.round(stopMs) })
    for (const c of clients) c.provider.connect()
  }
  editing = false
  await Promise.all(loops)
  await until(() => clients.every(c => c.provider.synced), 20_000, 'the clients to resync')
  for (const room of DOCS) {
    const mine = clients.filter(c => c.room === room)
    const want = mine.flatMap(c => c.writer.made).sort()
    await until(() => new Set(mine.map(c => c.doc.getText('text').toString())).size === 1 &&
      mine[0].doc.getText('text').length === want.join('').length, 30_000, `the clients of ${room} to converge`)
    assert.deepEqual(tokensOf(mine[0].doc.getText('text').toString()).sort(), want, `${room}: every edit, exactly once`)
  }
  closeAll(...clients)
  assert.equal((await server.stop('SIGTERM')).code, 0)
  t.diagnostic(JSON.stringify(rounds))
})

// A peer that stopped reading cannot be sent its close frame: the server
// waits for its blocked write until the write timeout (10 s) before it
// exits. That must neither delay the 1001 of the other peers nor change
// the exit code (with the default --shutdown-timeout of 20 s), nor lose
// anything. (With --shutdown-timeout below the write timeout the process
// exits 1, "documents not all closed in time", though everything is on
// disk: see docs/reliability.md.)
test('SIGTERM with a peer that stopped reading: others closed at once, exit 0, nothing lost', { timeout: 90_000 }, async t => {
  const data = path.join(tempDir(), 'quire.db')
  let server = await Server.start({ data, args: ['--outbox-bytes', String(64 << 20), '--outbox-messages', '100000'] })
  const a = tappedConnect(server, 'stuck', { onText: () => {} })
  await synced(a)
  const stuck = await rawClient(server, 'stuck')
  stuck.send(msgStep1(EMPTY_SV))
  await until(() => stuck.frames.length > 0, 5_000, 'the stuck peer to be answered')
  stuck.pause()
  stuck.on('error', () => {})
  // ~10 MB for the stuck peer: more than the socket buffers hold.
  const blob = 'x'.repeat(16 << 10)
  for (let i = 0; i < 600; i++) {
    a.doc.getMap('m').set('v', `${i}:${blob}`)
    await sleep(2)
  }
  await sleep(500)
  const t0 = performance.now()
  let closedAfter = null
  a.provider.on('connection-close', () => { closedAfter ??= performance.now() - t0 })
  const exit = await server.stop('SIGTERM', 40_000)
  const stopMs = performance.now() - t0
  a.provider.disconnect()
  t.diagnostic(JSON.stringify({ exit, stopMs: Math.round(stopMs), healthyClosedAfterMs: Math.round(closedAfter), healthyCode: a.closes[0] }))
  assert.equal(exit.code, 0, server.logs.slice(-5).join('\n'))
  assert.equal(a.closes[0], 1001)
  assert.ok(closedAfter < 2000, `the reading peer was closed ${Math.round(closedAfter)} ms after the signal`)
  server = await Server.start({ data })
  const json = JSON.parse((await server.fetch('/api/v1/docs/stuck/export?format=json')).text)
  assert.ok(json.m.v.startsWith('599:'), 'the last value is on disk')
  assert.equal(json.m.v, a.doc.getMap('m').get('v'))
  closeAll(a)
  assert.equal((await server.stop('SIGTERM')).code, 0)
})
