// Reliability: bad input from one peer ends that peer and nothing else.
// Attackers (raw sockets) join a document and send garbage frames,
// truncated frames, text frames, invalid updates, state vectors and
// awareness updates, and a frame over the size limit, while two
// y-websocket clients keep editing the same document and measure their
// round trip. Each attacker must get the close code sync/doc.go names,
// the honest clients must never be disconnected nor slowed down, and
// nothing of the attack may reach the document or the awareness states.
// Figures: docs/reliability.md.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Server, until, sleep, tempDir, closeAll, synced, Y } from './helpers.mjs'
import { tappedConnect, rawClient, readMetrics, roundTrips, quantile, msgStep1, msgStep2, msgUpdate, msgAwareness } from './load.mjs'
import * as encoding from 'lib0/encoding'

const ROOM = 'attacked'
const MAX_FRAME = 1 << 20
const ROUNDS = 15
// Bounds on the honest clients' round trip during the attack: a session
// that stalled or restarted on bad input would show as a pause of seconds
// or a disconnect; the p99 bound is loose because this 2-core machine is
// shared with other work.
const P50_BOUND_MS = 100
const P99_BOUND_MS = 1000

// An update inserting EVIL into the text the honest clients edit, and a
// state for a fake awareness client: if any part of a rejected message were
// applied, these would show.
const evil = new Y.Doc()
evil.clientID = 666
evil.getText('rtt').insert(0, 'EVIL')
evil.getMap('evil').set('k', 'EVIL')
const evilUpdate = Y.encodeStateAsUpdate(evil)
const awareness = entries => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const [client, clock, state] of entries) {
    encoding.writeVarUint(e, client)
    encoding.writeVarUint(e, clock)
    encoding.writeVarString(e, state)
  }
  return encoding.toUint8Array(e)
}
const cat = (...parts) => Buffer.concat(parts.map(p => Buffer.from(p)))

// [name, frame (a string is sent as a text frame), expected close code, error kind counted]
const attacks = [
  ['garbage: 64 bytes of 0xff (a varint that never ends)', Buffer.alloc(64, 0xff), 1007, 'bad_frame'],
  ['garbage: unknown sync message type 7', new Uint8Array([0, 7, 1, 0]), 1007, 'bad_frame'],
  ['empty binary frame', new Uint8Array(0), 1007, 'bad_frame'],
  ['truncated frame: an update message cut in half', msgUpdate(evilUpdate).subarray(0, Math.floor(msgUpdate(evilUpdate).length / 2)), 1007, 'bad_frame'],
  ['valid sync step 1, then a truncated message in the same frame', cat(msgStep1(new Uint8Array([0])), msgUpdate(evilUpdate).subarray(0, 5)), 1007, 'bad_frame'],
  ['text frame', 'hello, I am text', 1003, 'bad_frame'],
  ['invalid update: the EVIL update without its last byte (delete set)', msgUpdate(evilUpdate.subarray(0, evilUpdate.length - 1)), 1007, 'bad_update'],
  ['invalid update: random bytes as an update', msgUpdate(new Uint8Array([5, 0xff, 0x7f, 3, 9, 9, 9, 0x80])), 1007, 'bad_update'],
  ['invalid sync step 2: the EVIL update with trailing garbage cut in', msgStep2(cat(evilUpdate.subarray(0, 10), [0xff, 0xff, 0xff])), 1007, 'bad_update'],
  ['invalid state vector in sync step 1', msgStep1(new Uint8Array([3, 1, 0x80])), 1007, 'bad_update'],
  ['malformed awareness: state not JSON', msgAwareness(awareness([[667, 1, '{"user":']])), 1007, 'bad_awareness'],
  ['malformed awareness: a valid entry, then a truncated one', msgAwareness(awareness([[668, 1, '{"evil":true}'], [669, 1, '{"evil":true}']]).subarray(0, 22)), 1007, 'bad_awareness'],
  ['malformed awareness: claims 1000 entries', msgAwareness(new Uint8Array([0xe8, 0x07, 1, 1, 2, 0x7b, 0x7d])), 1007, 'bad_awareness'],
  ['frame over --max-frame-bytes', msgUpdate(new Uint8Array(MAX_FRAME + 1024)), 1009, 'too_big']
]
// The server closes the connection as soon as it has seen the frame is too
// big, while the attacker is still sending it: the attacker's socket is
// then often reset before it reads the 1009 close frame, and it sees 1006
// (no close frame). The server side is checked by the too_big counter.
const alsoAccepted = { 1009: [1006] }

test('bad input closes the attacker only; honest clients keep editing at speed', { timeout: 90_000 }, async t => {
  const server = await Server.start({ data: path.join(tempDir(), 'quire.db'), args: ['--max-frame-bytes', String(MAX_FRAME)] })
  const a = tappedConnect(server, ROOM)
  const b = tappedConnect(server, ROOM)
  const statuses = []
  for (const c of [a, b]) c.provider.on('status', ({ status }) => statuses.push(status))
  await Promise.all([a, b].map(c => synced(c)))
  statuses.length = 0
  a.awareness.setLocalStateField('user', { name: 'a' })
  b.awareness.setLocalStateField('user', { name: 'b' })
  a.doc.getText('text').insert(0, 'content before the attack')
  await until(() => b.doc.getText('text').toString() === 'content before the attack', 10_000, 'b to see a')
  const before = await readMetrics(server)

  // The honest clients edit the whole time: a's inserts timed until b has them.
  const rtt = roundTrips(a, b, { gap: 10 })
  t.after(() => rtt.stop()) // a failed assertion must not leave the loop running
  await sleep(300)
  const t0 = performance.now()
  const results = []
  for (let round = 0; round < ROUNDS; round++) {
    // In each round, every attack at once, each from its own connection.
    results.push(...await Promise.all(attacks.map(async ([name, frame, want, kind]) => {
      const ws = await rawClient(server, ROOM)
      await until(() => ws.frames.length > 0, 10_000, 'the attacker to be answered (joined)')
      ws.on('error', () => {})
      ws.send(frame)
      const got = await ws.closed
      return { name, want, kind, ...got }
    })))
  }
  const attackMs = performance.now() - t0
  await sleep(300)
  const times = await rtt.stop()
  const after = await readMetrics(server)

  const wrong = results.filter(r => r.code !== r.want && !alsoAccepted[r.want]?.includes(r.code)).map(r => `${r.name}: got ${r.code} (${r.reason}), want ${r.want}`)
  // gorilla/websocket answers an over-limit frame itself, with 1009 and no
  // reason; every other close carries the server's reason.
  const noReason = results.filter(r => r.reason === '' && r.want !== 1009).map(r => r.name)
  const counted = {}
  for (const kind of ['bad_frame', 'bad_update', 'bad_awareness', 'too_big']) {
    counted[kind] = after.get(`quire_errors_total{kind="${kind}"}`) - before.get(`quire_errors_total{kind="${kind}"}`)
  }
  const expected = {}
  for (const r of results) expected[r.kind] = (expected[r.kind] ?? 0) + 1

  // The document: what the honest clients wrote, and nothing else.
  await until(() => a.doc.getText('rtt').toString() === b.doc.getText('rtt').toString(), 10_000, 'a and b to converge')
  const json = JSON.parse((await server.fetch(`/api/v1/docs/${ROOM}/export?format=json`)).text)
  const summary = {
    attacks: attacks.length,
    attackerConnections: results.length,
    attackMs: Math.round(attackMs),
    closeReasons: Object.fromEntries(attacks.map(([name]) => [name, results.find(r => r.name === name).reason])),
    closeCodes: Object.fromEntries(attacks.map(([name]) => {
      const n = {}
      for (const r of results) if (r.name === name) n[r.code] = (n[r.code] ?? 0) + 1
      return [name, n]
    })),
    errorsCounted: counted,
    roundTrips: { n: times.length, p50: +quantile(times, 0.5).toFixed(1), p99: +quantile(times, 0.99).toFixed(1), max: +Math.max(...times).toFixed(1) },
    honestStatusChanges: statuses
  }
  t.diagnostic(JSON.stringify(summary))
  assert.deepEqual(wrong, [], 'every attacker gets its close code')
  assert.deepEqual(noReason, [], 'every close has a reason')
  assert.deepEqual(counted, expected, 'every bad input is counted once, by kind')
  assert.deepEqual(statuses, [], 'the honest clients were never disconnected')
  assert.deepEqual([a.closes, b.closes], [[], []])
  assert.ok(times.length >= 15, `the honest clients kept editing (${times.length} round trips)`)
  assert.ok(quantile(times, 0.5) < P50_BOUND_MS, `median round trip during the attack: ${summary.roundTrips.p50} ms`)
  assert.ok(quantile(times, 0.99) < P99_BOUND_MS, `p99 round trip during the attack: ${summary.roundTrips.p99} ms`)
  assert.deepEqual(json, a.doc.toJSON(), 'the server has exactly what the honest clients have')
  assert.deepEqual(Object.keys(json).sort(), ['rtt', 'text'])
  assert.equal(json.text, 'content before the attack')
  assert.ok(!json.rtt.includes('EVIL'), 'nothing of a rejected update was applied')
  const aware = [...a.awareness.getStates().keys(), ...b.awareness.getStates().keys()]
  assert.deepEqual(aware.filter(id => id !== a.doc.clientID && id !== b.doc.clientID), [], 'no attacker awareness state')
  // The document keeps working for a newcomer.
  const c = tappedConnect(server, ROOM)
  await until(() => c.doc.getText('rtt').toString() === a.doc.getText('rtt').toString(), 10_000, 'a newcomer to get the document')
  closeAll(a, b, c)
  assert.equal((await server.stop('SIGTERM')).code, 0)
})
