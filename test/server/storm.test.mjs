// Reliability: a storm of 10,000 WebSocket connects and disconnects across
// 1,000 documents, on a server that unloads a document 200 ms after its
// last peer left. Afterwards every document is unloaded, no connection is
// left, and the goroutine count and the heap are back near where they were
// before the storm. Figures: docs/reliability.md.
//
// The clients are raw `ws` sockets speaking just enough y-websocket, in
// five ways (by connection number mod 5): send sync step 1 and close
// cleanly after the first answer; send step 1 and drop the TCP connection
// without a close frame after the first answer; close cleanly at once
// without sending anything; send step 1, answer the server's step 1 with an
// empty step 2 and an awareness update, close after the server's step 2;
// send an update inserting a unique token and close once the server echoed
// it. Every echoed token must be stored exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Server, until, sleep, prng, tempDir, Y } from './helpers.mjs'
import { rawClient, readMetrics, msgStep1, msgStep2, msgUpdate, msgAwareness, EMPTY_SV, countTokens } from './load.mjs'
import * as encoding from 'lib0/encoding'

const SEED = Number(process.env.QUIRE_E2E_SEED || 1)
const CONNS = 10_000
const DOCS = 1_000
const CONCURRENCY = 64
const GOROUTINE_SLACK = 5
// The heap in use after the storm may exceed the baseline by at most this
// much. The Go GC runs when the heap doubles (GOGC=100, and never below a
// 4 MiB goal), not when the server goes idle, and there is no endpoint to
// force one: right after the storm the heap can hold up to one GC cycle of
// garbage. The test therefore scrapes /metrics (which allocates) until a GC
// has run after the last unload, and compares then. A leak of the storm's
// per-connection or per-document state (10,000 connections, 1,000 loaded
// documents: several MiB) would exceed it.
const HEAP_SLACK = 4 << 20

const g = (m, name) => m.get(name)
const EMPTY_AWARENESS_STATE = clientID => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, clientID)
  encoding.writeVarUint(e, 1)
  encoding.writeVarString(e, JSON.stringify({ user: { name: `storm${clientID}` } }))
  return encoding.toUint8Array(e)
}

// The first frame received that satisfies want (frames that arrived with
// the upgrade response are already in ws.frames).
const firstMessage = (ws, want = () => true) => new Promise((resolve, reject) => {
  const found = ws.frames.find(want)
  if (found) return resolve(found)
  const onMsg = data => { if (want(data)) { ws.off('message', onMsg); resolve(data) } }
  ws.on('message', onMsg)
  ws.closed.then(({ code }) => reject(new Error(`closed (${code}) before the answer`)))
})

// Tokens written (echoed) by style 4, by document.
const written = new Map()

const oneConnection = async (server, i, doc, tag) => {
  const ws = await rawClient(server, `storm-${doc}`)
  switch (i % 5) {
    case 0:
      ws.send(msgStep1(EMPTY_SV))
      await firstMessage(ws)
      ws.close()
      return ws.closed
    case 1:
      ws.send(msgStep1(EMPTY_SV))
      await firstMessage(ws)
      ws.terminate()
      return ws.closed
    case 2:
      ws.close()
      return ws.closed
    case 3: {
      ws.send(msgStep1(EMPTY_SV))
      // the server's step 1 is [0, 0, ...], its step 2 [0, 1, ...]
      await firstMessage(ws, d => d[0] === 0 && d[1] === 0)
      ws.send(msgStep2(new Uint8Array([0, 0])))
      ws.send(msgAwareness(EMPTY_AWARENESS_STATE(i + 1)))
      await firstMessage(ws, d => d[0] === 0 && d[1] === 1)
      ws.close()
      return ws.closed
    }
    case 4: {
      const y = new Y.Doc()
      const tok = `<${tag}.${i}>`
      y.getText('text').insert(0, tok)
      ws.send(msgUpdate(Y.encodeStateAsUpdate(y)))
      // the echo: a sync update holding the token
      await firstMessage(ws, d => d[0] === 0 && d[1] === 2 && Buffer.from(d).includes(tok))
      if (!written.has(doc)) written.set(doc, [])
      written.get(doc).push(tok)
      ws.close()
      return ws.closed
    }
  }
}

const storm = async (server, n, docOf, tag) => {
  let next = 0
  let failed = 0
  const errors = []
  const worker = async () => {
    while (next < n) {
      const i = next++
      try {
        await oneConnection(server, i, docOf(i), tag)
      } catch (err) {
        failed++
        if (errors.length < 5) errors.push(String(err))
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return { failed, errors }
}

// Waits for every document to unload and every connection to end, then
// scrapes /metrics until a GC has completed after that, and returns the
// metrics of that moment.
const settle = async server => {
  await until(async () => {
    const m = await readMetrics(server)
    return g(m, 'quire_documents_loaded') === 0 && g(m, 'quire_connections') === 0
  }, 30_000, 'every document to unload and every connection to end')
  const idle = Date.now() / 1000
  let m
  await until(async () => {
    m = await readMetrics(server)
    return g(m, 'go_memstats_last_gc_time_seconds') > idle + 0.05
  }, 60_000, 'a GC after the documents unloaded')
  return m
}

test('storm: 10,000 connects/disconnects across 1,000 documents leave nothing behind', { timeout: 150_000 }, async t => {
  const rnd = prng(SEED)
  const server = await Server.start({ data: path.join(tempDir(), 'quire.db'), args: ['--unload-after', '200ms'] })
  // Warm up (first-use allocations: pools, the bbolt mmap, buffers).
  const warm = await storm(server, 400, i => i % 100, 'w')
  assert.equal(warm.failed, 0, warm.errors.join('\n'))
  const before = await settle(server)

  const t0 = performance.now()
  let peakDocs = 0
  let peakConns = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const m = await readMetrics(server)
      peakDocs = Math.max(peakDocs, g(m, 'quire_documents_loaded'))
      peakConns = Math.max(peakConns, g(m, 'quire_connections'))
      await sleep(250)
    }
  })()
  const res = await storm(server, CONNS, () => Math.floor(rnd() * DOCS), 's')
  const stormMs = performance.now() - t0
  sampling = false
  await sampler
  assert.equal(res.failed, 0, `failed connections:\n${res.errors.join('\n')}`)
  const during = await readMetrics(server)
  const after = await settle(server)
  const settledMs = performance.now() - t0 - stormMs

  const goroutinesBefore = g(before, 'go_goroutines')
  // Goroutines may take a moment to end after a connection closed.
  let goroutinesAfter = g(after, 'go_goroutines')
  await until(async () => {
    goroutinesAfter = g(await readMetrics(server), 'go_goroutines')
    return goroutinesAfter <= goroutinesBefore + GOROUTINE_SLACK
  }, 10_000, `goroutines back to the baseline (${goroutinesBefore} + ${GOROUTINE_SLACK}); now ${goroutinesAfter}`).catch(() => {})
  const listed = JSON.parse((await server.fetch('/api/v1/docs')).text).docs.filter(d => d.name.startsWith('storm-')).length
  // Every echoed token is stored, once.
  let tokens = 0
  const bad = []
  for (const [doc, toks] of written) {
    const res = await server.fetch(`/api/v1/docs/storm-${doc}/export?format=text&field=text`)
    const counts = countTokens(res.text)
    for (const tok of toks) if (counts.get(tok) !== 1) bad.push(`${doc}: ${tok} x${counts.get(tok) ?? 0}`)
    if (counts.size !== toks.length) bad.push(`${doc}: ${counts.size} tokens stored, ${toks.length} written`)
    tokens += toks.length
  }
  const summary = {
    connections: CONNS,
    tokensWritten: tokens,
    documentsWritten: written.size,
    documentsStored: listed,
    documents: DOCS,
    stormMs: Math.round(stormMs),
    settleMs: Math.round(settledMs),
    peakDocsLoaded: peakDocs,
    peakConnections: peakConns,
    messagesIn: g(during, 'quire_messages_in_total{type="sync"}') - g(before, 'quire_messages_in_total{type="sync"}'),
    goroutines: [goroutinesBefore, goroutinesAfter],
    docsLoaded: [g(before, 'quire_documents_loaded'), g(after, 'quire_documents_loaded')],
    connectionsGauge: [g(before, 'quire_connections'), g(after, 'quire_connections')],
    heapInuseMiB: [g(before, 'go_memstats_heap_inuse_bytes'), g(after, 'go_memstats_heap_inuse_bytes')].map(b => +(b / 2 ** 20).toFixed(2)),
    heapAllocMiB: [g(before, 'go_memstats_heap_alloc_bytes'), g(after, 'go_memstats_heap_alloc_bytes')].map(b => +(b / 2 ** 20).toFixed(2)),
    rssMiB: [g(before, 'process_resident_memory_bytes'), g(after, 'process_resident_memory_bytes')].map(b => +(b / 2 ** 20).toFixed(2)),
    errors: Object.fromEntries([...after].filter(([k, v]) => k.startsWith('quire_errors_total') && v > 0))
  }
  t.diagnostic(JSON.stringify(summary))
  assert.ok(peakDocs > 10, `documents were loaded during the storm (peak ${peakDocs})`)
  assert.equal(g(after, 'quire_documents_loaded'), 0)
  assert.equal(g(after, 'quire_connections'), 0)
  assert.ok(goroutinesAfter <= goroutinesBefore + GOROUTINE_SLACK, `goroutines ${goroutinesBefore} -> ${goroutinesAfter}`)
  assert.ok(g(after, 'go_memstats_heap_inuse_bytes') <= g(before, 'go_memstats_heap_inuse_bytes') + HEAP_SLACK,
    `heap in use ${summary.heapInuseMiB[0]} MiB -> ${summary.heapInuseMiB[1]} MiB`)
  assert.deepEqual(summary.errors, {}, 'no errors counted')
  assert.equal(tokens, CONNS / 5 + 80, 'every write was echoed')
  assert.deepEqual(bad, [], 'every echoed write stored exactly once')
  assert.equal(listed, written.size, 'documents stored: those written to, and no other')
  assert.equal((await server.stop('SIGTERM')).code, 0)
})
