// Package storage keeps the durable state of documents: bytes in, bytes out.
//
// A document is stored as a snapshot (one Yjs update holding the whole state
// at some point) plus an append-only log of the updates received since. The
// package never decodes either: it does not import crdt, and any byte string
// is a valid update or snapshot to it. Two implementations satisfy [Store]:
// [OpenBolt], a single bbolt file and the default, and [NewMemory] for tests.
// Any other backend must pass storage/storetest.
//
// # Sequence numbers
//
// Every logged update gets a sequence number, counted per document from 1
// and never reused while the document exists. Meta.SnapshotSeq is the last
// sequence folded into the snapshot and Meta.LastSeq the last one appended;
// the log holds exactly the updates SnapshotSeq+1 through LastSeq, so
// State.Updates[i] has sequence SnapshotSeq+1+i and LogCount is
// LastSeq-SnapshotSeq. Deleting a document forgets its sequences: a document
// written again under the same name starts from 1.
//
// # The caller's duties
//
// The store keeps bytes safe; it cannot know what they mean. The caller
// (the document session) must:
//
//   - Persist before it publishes. [Store.Append] returns only once the
//     updates are durable, so an update is broadcast to peers only after its
//     Append has returned without error. If Append fails, the updates may or
//     may not be stored (the disk may have failed mid-commit); the session
//     must not acknowledge them and should treat the document as suspect.
//   - Batch. An Append costs a transaction and, for the bolt store, an
//     fsync, whatever the number of updates in it, so pass every update
//     waiting in the inbox to one call rather than one call per update.
//     The bolt store also commits concurrent Appends of different
//     documents together, so many busy sessions share each fsync; a
//     session gains nothing by holding updates back to make bigger batches.
//   - Compact with an honest through. [Store.Compact] trusts that the
//     snapshot contains the old snapshot and every update up to and
//     including through. Containing more is harmless, because applying a
//     Yjs update twice changes nothing, and Load replays the updates after
//     through on top of it. Containing less loses data. So take through from
//     Meta.LastSeq of the last Append whose updates the merged state already
//     includes, capture it before merging, and never guess it upwards. A
//     through below the stored SnapshotSeq or above LastSeq fails with
//     [ErrConflict], and nothing changes: reload and decide again.
//   - Decide when to compact, for example with [NeedsCompaction] on the Meta
//     that Append returns. The store never compacts on its own, because only
//     the caller can merge updates.
//   - Validate document names and limit update sizes. The store accepts any
//     byte string from 1 to [MaxNameLen] bytes as a name and any non-empty
//     value up to bbolt's limit (2 GiB) as an update; smaller limits are
//     policy, and policy lives in the server.
//   - Close the store only after every session has finished its last
//     Append; operations after Close fail with [ErrClosed].
//
// The store copies every byte slice it is given and every one it returns, so
// callers may reuse their buffers and may modify what Load returns.
//
// All methods are safe for concurrent use. A context is checked before an
// operation starts; once a transaction has begun it runs to completion,
// because a half-cancelled commit is worse than a late one.
package storage
