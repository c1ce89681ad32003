// Package sync serves Yjs documents to y-websocket clients: the
// y-protocols codec (sync, awareness, auth, query-awareness), the awareness
// table, and the document sessions that drive crdt and storage.
//
// The design follows the NATS server's client loop. One goroutine per open
// document, the Session, owns its state (a crdt.Doc, or while it only
// relays updates, its encoding and a crdt.Summary: see Config.HibernateAfter),
// its awareness table and its set of peers; nothing else touches them, so none of them needs a lock. Each
// Peer (one connection) has a reader that decodes frames and posts them to
// the session's inbox, and a bounded outbox drained by a write goroutine
// that runs only while the outbox holds something, writing all of it in
// one system call (writer goroutines are recycled across peers, so that a
// busy room does not start one per push). The reader, too, runs only while there is input when
// its conn can park (a WSConn from Upgrade, on Linux: see Hub.Attach), so
// that an idle connection holds no goroutine. One sweeper per Hub
// schedules the peers' pings and keepalives. The flow of one edit:
//
//	conn read -> DecodeFrame -> session inbox -> crdt Summary.Absorb
//	          (or ApplyUpdate on a replica) -> storage Append (durable)
//	          -> peers' outboxes -> conn write
//
// The rules that flow keeps:
//
//  1. Persist before broadcast. The session takes every event waiting in
//     its inbox as one batch, applies it, writes the updates that changed
//     the document (or left something pending in it) with one Append (one
//     fsync), and only then sends anything the batch produced: echoes,
//     step 2 answers, awareness, REST answers. Whatever any peer or REST
//     caller has seen is on disk. What a batch broadcasts goes out as one
//     update (the batch's changes merged) and one awareness message (the
//     latest entry of each client), so that a peer gets one write per
//     batch however many edits and cursor moves it held, and a
//     y-websocket provider echoes one awareness message, not one per
//     cursor move. A session with many peers that is busy paces its
//     batches (see pacePerPeer) so that more events share each one. If the Append fails nothing is sent, the
//     peers are closed with 1011 and the session ends, so that the next
//     connection reloads from disk and the clients resync what was lost.
//  2. A slow peer never slows a session. The session only appends to a
//     peer's outbox; a peer whose outbox holds more than OutboxMessages
//     messages or OutboxBytes bytes is closed with 1013 ("try again
//     later"), which y-websocket clients answer by reconnecting and
//     resyncing (step 1 / step 2), which is cheap and loses nothing.
//  3. Bad input ends one peer. Decoders return errors wrapping
//     ErrMalformed and never panic (they are fuzzed); a frame, update,
//     state vector or awareness update that does not decode closes that
//     peer with 1007 and a reason, and is logged and counted. A text frame
//     gets 1003, a frame over the size limit 1009. The document and the
//     other peers carry on.
//  4. Awareness is broadcast, never persisted. The states a peer
//     introduced are removed and announced when it leaves. Echoes of
//     states the session already has (y-websocket providers send back
//     every change they receive) are dropped by the readers.
//  5. The Hub loads a document on first use (concurrent first uses share
//     one load), answers a peer nothing before the load completed, unloads
//     a document a grace period after its last peer left (it is durable by
//     construction; a long log is compacted first), and serializes REST
//     reads and writes through the session's inbox.
//
// Nothing here assumes it is the only node serving a document: all state
// that matters is in the store, and the framing (DecodeFrame, one message
// per frame out) is kept apart from the session logic, which works on
// decoded Messages, so that other envelopes can be added.
//
// # Close codes
//
// 1000 normal, 1001 server shutting down or document unloaded, 1003 text
// frame, 1007 malformed input (the reason says which), 1009 frame too big,
// 1011 server error (storage), 1013 outbox overflow, 4401 token expired,
// 4410 document deleted. Only 4401 and 4410 are in the 4400-4499 range,
// which y-websocket 3.1 clients treat as permanent: a client that
// reconnected after a delete would upload its copy and resurrect the
// document, and one whose token expired must get a new one from its
// application first.
//
// # Compatibility notes
//
// Messages of unknown types and auth messages from clients are ignored,
// as the reference server does. Query-awareness is answered with every
// known state (the reference server ignores it). A peer that has been sent
// nothing for KeepaliveInterval gets an awareness update with no entries:
// y-websocket clients reconnect after 30 s without a message, and a client
// without awareness state of its own would otherwise get none.
package sync
