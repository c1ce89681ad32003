// Reliability: SIGKILL the server under editing load, 20 times, restart it
// on the same data file and port, and check that nothing the server had
// confirmed is lost and nothing is doubled. Figures: docs/reliability.md.
//
// Each client inserts unique tokens "<id.n>" at token boundaries into the
// Text "text" of its document, every few ms, connected or not. An edit is
// confirmed once the server has sent it to any client (its echo to the
// sender or its broadcast to another client): the server persists before it
// sends, so a confirmed edit must survive a SIGKILL. After each kill the
// clients are disconnected before the new server starts, so that what the
// new server has comes from the disk alone; the REST export is then checked
// for every token confirmed so far (present exactly once), and only then
// do the clients reconnect and upload what the server never got. A REST
// writer posts token updates to the first document as well; a 204 answer
// confirms its update. Logs are
// compacted every 50 entries, so that kills also hit compactions.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Server, until, sleep, prng, tempDir, closeAll, Y } from './helpers.mjs'
import { tappedConnect, TokenWriter, tokensOf, countTokens, readMetrics } from './load.mjs'

const SEED = Number(process.env.QUIRE_E2E_SEED || 1)
const KILLS = Number(process.env.QUIRE_KILLS || 20)
const DOCS = ['kill-a', 'kill-b']
const PER_DOC = 3
// Compact a document's log every 50 entries (default 500), so that kills
// also land during and around compactions.
const ARGS = ['--compact-log-count', '50']

test(`SIGKILL under load, ${KILLS} times: no confirmed edit lost, none doubled`, { timeout: 170_000 }, async t => {
  const rnd = prng(SEED)
  const data = path.join(tempDir(), 'quire.db')
  let server = await Server.start({ data, args: ARGS })
  const addr = server.addr
  const clients = []
  // Tokens the server has sent to some client of the room, at any time.
  const confirmed = Object.fromEntries(DOCS.map(room => [room, new Set()]))
  const confirmedIn = room => confirmed[room]
  for (const [d, room] of DOCS.entries()) {
    for (let i = 0; i < PER_DOC; i++) {
      const c = tappedConnect(server, room, { maxBackoffTime: 100, onText: s => { for (const tok of tokensOf(s)) confirmed[room].add(tok) } })
      c.room = room
      c.writer = new TokenWriter(c.doc, `d${d}c${i}`, prng(SEED * 100 + d * 10 + i))
      clients.push(c)
    }
  }
  await until(() => clients.every(c => c.provider.synced), 10_000, 'the clients to sync')

  // The load: every client edits every 4-12 ms, connected or not.
  let editing = true
  let aborted = false
  t.after(() => { editing = false; aborted = true }) // a failed assertion must not leave the loops running
  const loops = clients.map(async c => {
    const r = prng(SEED * 7 + c.doc.clientID)
    while (editing) {
      c.writer.edit()
      await sleep(4 + Math.floor(r() * 8))
    }
  })

  // A REST writer too, on the first document: each edit is an update
  // POSTed to /api/v1/docs/{doc}/updates, confirmed when the server
  // answers 204 (it answers once the update is durable). An update that got
  // no answer is posted again until it gets one (applying an update twice
  // changes nothing). It is held while the new server's disk is checked.
  const restDoc = new Y.Doc()
  const rest = new TokenWriter(restDoc, 'rest', prng(SEED * 13))
  let restOpen = true
  const restStats = { answered: 0, networkErrors: 0, otherStatuses: [] }
  const restLoop = (async () => {
    const r = prng(SEED * 17)
    while (editing) {
      const sv = Y.encodeStateVector(restDoc)
      const tok = rest.edit()
      const update = Y.encodeStateAsUpdate(restDoc, sv)
      for (;;) {
        if (aborted) return
        while (!restOpen && !aborted) await sleep(5)
        let res
        try {
          res = await fetch(`http://${addr}/api/v1/docs/${DOCS[0]}/updates`, {
            method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: update
          })
          await res.arrayBuffer()
        } catch {
          restStats.networkErrors++
          await sleep(10)
          continue
        }
        if (res.status === 204) {
          confirmed[DOCS[0]].add(tok)
          restStats.answered++
          break
        }
        restStats.otherStatuses.push(res.status)
        await sleep(10)
      }
      await sleep(5 + Math.floor(r() * 10))
    }
  })()

  const stats = { compactions: 0, kills: 0, lostAfterKill: 0, doubledAfterKill: 0, confirmedAtKill: [], checkedAtKill: 0 }
  for (let k = 0; k < KILLS; k++) {
    // A random moment: mostly after some editing, sometimes while the
    // clients are still reconnecting and resyncing.
    const early = rnd() < 0.25
    if (!early) await until(() => clients.every(c => c.provider.synced), 20_000, 'the clients to resync')
    await sleep(early ? Math.floor(rnd() * 60) : 150 + Math.floor(rnd() * 500))
    stats.compactions += (await readMetrics(server)).get('quire_compactions_total')
    restOpen = false
    const { signal } = await server.stop('SIGKILL')
    assert.equal(signal, 'SIGKILL')
    stats.kills++
    for (const c of clients) c.provider.disconnect()
    const confirmedNow = Object.fromEntries(DOCS.map(room => [room, new Set(confirmed[room])]))

    const killedLogs = server.logs
    server = await Server.start({ data, addr, args: ARGS })
    for (const room of DOCS) {
      const res = await server.fetch(`/api/v1/docs/${room}/export?format=text&field=text`)
      const counts = res.status === 404 ? new Map() : countTokens(res.text)
      if (res.status !== 404) assert.equal(res.status, 200, res.text)
      const lost = [...confirmedNow[room]].filter(tok => !counts.has(tok))
      const doubled = [...counts].filter(([, n]) => n > 1).map(([tok]) => tok)
      stats.lostAfterKill += lost.length
      stats.doubledAfterKill += doubled.length
      stats.checkedAtKill += confirmedNow[room].size
      assert.deepEqual(lost, [], `kill ${k + 1}: confirmed edits missing from ${room} after the restart; ` +
        `the killed server's last log lines:\n${killedLogs.slice(-8).join('\n')}`)
      assert.deepEqual(doubled, [], `kill ${k + 1}: edits doubled in ${room} after the restart`)
    }
    stats.confirmedAtKill.push(DOCS.reduce((n, room) => n + confirmedNow[room].size, 0))
    for (const c of clients) c.provider.connect()
    restOpen = true
  }

  editing = false
  await Promise.all([...loops, restLoop])
  await until(() => clients.every(c => c.provider.synced), 20_000, 'the clients to resync after the last kill')
  const made = clients.reduce((n, c) => n + c.writer.made.length, 0) + rest.made.length
  // Everything any client made is everywhere, exactly once, and the REST
  // export is the clients' state.
  for (const room of DOCS) {
    const mine = clients.filter(c => c.room === room)
    const want = [...mine.flatMap(c => c.writer.made), ...(room === DOCS[0] ? rest.made : [])].sort()
    await until(() => new Set(mine.map(c => c.doc.getText('text').toString())).size === 1 &&
      mine[0].doc.getText('text').length === want.join('').length, 30_000, `the clients of ${room} to converge`)
    const text = mine[0].doc.getText('text').toString()
    assert.deepEqual(tokensOf(text).sort(), want, `${room}: every edit made, exactly once`)
    await until(async () => (await server.fetch(`/api/v1/docs/${room}/export?format=text&field=text`)).text === text,
      10_000, `the REST export of ${room} to equal the clients' state`)
  }
  const confirmedEnd = DOCS.reduce((n, room) => n + confirmedIn(room).size, 0)
  closeAll(...clients)
  assert.equal((await server.stop('SIGTERM')).code, 0)
  const summary = {
    kills: stats.kills,
    editsMade: made,
    confirmedAtLastKill: stats.confirmedAtKill.at(-1),
    confirmedEnd,
    confirmedChecksAfterKills: stats.checkedAtKill,
    restEdits: rest.made.length,
    restPostsWithoutAnswer: restStats.networkErrors,
    compactionsSeen: stats.compactions,
    lost: stats.lostAfterKill,
    doubled: stats.doubledAfterKill
  }
  t.diagnostic(JSON.stringify(summary))
  assert.ok(made > 1000, `enough load (${made} edits)`)
  assert.deepEqual(restStats.otherStatuses, [], 'REST updates are answered 204 or not at all')
})
