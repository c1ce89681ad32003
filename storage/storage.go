package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is durable document state. See the package documentation for the
// duties of its caller; every implementation must pass storage/storetest.
type Store interface {
	// Load returns the snapshot and every logged update after it, in append
	// order, read in one consistent view. A document never written is not
	// an error: it loads as an empty State whose Meta has only the Name set
	// (Created is zero), because a session opening a new document and one
	// opening a stored one should take the same path.
	Load(ctx context.Context, doc string) (State, error)

	// Append durably adds updates to the document's log in one transaction,
	// creating the document if needed, and returns the Meta after the
	// write. With no updates it writes nothing and returns the current
	// Meta. An empty update is rejected with ErrEmptyUpdate, since no Yjs
	// update is empty and storing one would hide a caller bug.
	Append(ctx context.Context, doc string, updates ...[]byte) (Meta, error)

	// Compact atomically replaces the snapshot with snapshot and drops the
	// log entries with sequence <= through; entries after through stay, so
	// the caller may keep appending while it merges. through must lie in
	// [SnapshotSeq, LastSeq], else ErrConflict and nothing changes. A
	// document never written can be compacted with through 0, which stores
	// the snapshot as its first state (an import). An empty snapshot means
	// "no snapshot".
	Compact(ctx context.Context, doc string, snapshot []byte, through uint64) error

	// List returns the Meta of every stored document, ordered by name as
	// bytes.
	List(ctx context.Context) ([]Meta, error)

	// Stat returns the document's Meta without reading its contents, or
	// ErrNotFound if the document was never written (or was deleted).
	Stat(ctx context.Context, doc string) (Meta, error)

	// Delete removes the document, its snapshot and its log, or returns
	// ErrNotFound.
	Delete(ctx context.Context, doc string) error

	// Close releases the store. Calls after Close return ErrClosed; a
	// second Close returns nil so that a deferred Close can follow an
	// explicit one.
	Close() error
}

// State is what Load returns: the whole durable state of one document.
// Applying Snapshot and then each of Updates in order rebuilds the document.
type State struct {
	// Snapshot is nil when the document has never been compacted.
	Snapshot []byte
	// Updates has sequence numbers Meta.SnapshotSeq+1 through Meta.LastSeq.
	Updates [][]byte
	Meta    Meta
}

// Meta describes a stored document. Sizes count stored values only, not the
// backend's overhead, so they agree across backends.
type Meta struct {
	Name string
	// Bytes is SnapshotBytes + LogBytes: what Load will read.
	Bytes         int64
	SnapshotBytes int64
	LogBytes      int64
	// LogCount is the number of updates in the log (LastSeq - SnapshotSeq).
	LogCount int
	// LastSeq is the sequence of the last update appended; it is the value
	// to pass as Compact's through when the merged state includes it.
	LastSeq uint64
	// SnapshotSeq is the last sequence the snapshot covers.
	SnapshotSeq uint64
	// Created is the time of the first write, zero if the document does not
	// exist.
	Created time.Time
	// Updated is the time of the last Append, or of the creating Compact.
	// Compaction does not change a document's content, so it does not move
	// Updated.
	Updated time.Time
}

// MaxNameLen is the longest document name, in bytes, the store accepts. It
// is far below bbolt's key limit so that names stay cheap as keys and in
// logs; the server is expected to enforce a stricter rule of its own.
const MaxNameLen = 512

// Errors returned by stores, wrapped with context; test with errors.Is.
var (
	// ErrNotFound means the document does not exist (Stat, Delete).
	ErrNotFound = errors.New("document not found")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrInvalidName means the document name is empty or longer than
	// MaxNameLen bytes.
	ErrInvalidName = errors.New("invalid document name")
	// ErrEmptyUpdate means Append was given a zero-length update.
	ErrEmptyUpdate = errors.New("empty update")
	// ErrConflict means Compact's through does not fit the stored log: it
	// is older than the current snapshot (another compaction won) or newer
	// than the last append (the document was deleted or never had it).
	ErrConflict = errors.New("compaction conflicts with stored log")
	// ErrLocked means another process (or another Store in this one) holds
	// the data file open.
	ErrLocked = errors.New("data file locked by another process")
	// ErrCorrupt means the data file is damaged or is not a quire data
	// file.
	ErrCorrupt = errors.New("data file corrupt or not a quire store")
)

func checkName(doc string) error {
	if len(doc) == 0 || len(doc) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes (want 1 to %d)", ErrInvalidName, len(doc), MaxNameLen)
	}
	return nil
}

func checkUpdates(updates [][]byte) error {
	for i, u := range updates {
		if len(u) == 0 {
			return fmt.Errorf("%w: update %d of %d", ErrEmptyUpdate, i, len(updates))
		}
	}
	return nil
}

func opErr(op, doc string, err error) error {
	return fmt.Errorf("storage: %s %s: %w", op, qname(doc), err)
}

// qname quotes a document name for an error message, cut short so that a
// hostile 512-byte name does not flood the logs.
func qname(doc string) string {
	const max = 64
	if len(doc) > max {
		return fmt.Sprintf("%q...(%d bytes)", doc[:max], len(doc))
	}
	return fmt.Sprintf("%q", doc)
}

// now is the store's clock, reduced to what every backend can keep (UTC
// nanoseconds, no monotonic reading) so that Meta compares equal across
// backends and across a reopen.
func now() time.Time {
	return time.Now().UTC().Round(0)
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// Policy says when a document's log is worth folding into its snapshot.
// Zero fields take the defaults.
type Policy struct {
	// MaxLogBytes bounds the log's size. Default 1 MiB.
	MaxLogBytes int64
	// MaxLogCount bounds the number of log entries, since Load applies
	// each one separately. Default 500.
	MaxLogCount int
	// MinLogBytes is the floor under the ratio rule (see NeedsCompaction)
	// so that a young document is not compacted on every append. Default
	// 64 KiB.
	MinLogBytes int64
}

// Defaults for the zero Policy.
const (
	DefaultMaxLogBytes = 1 << 20
	DefaultMaxLogCount = 500
	DefaultMinLogBytes = 64 << 10
)

// NeedsCompaction reports whether m's log should be compacted under p: when
// it holds MaxLogCount entries or MaxLogBytes bytes, or when it has grown
// past MinLogBytes and is larger than the snapshot. The last rule keeps the
// cost of Load proportional to the document: replaying a log costs more per
// byte than decoding a merged snapshot, and a log bigger than the snapshot
// means most of a load is replay, whatever the absolute sizes.
func NeedsCompaction(m Meta, p Policy) bool {
	if m.LogCount == 0 {
		return false
	}
	if p.MaxLogBytes <= 0 {
		p.MaxLogBytes = DefaultMaxLogBytes
	}
	if p.MaxLogCount <= 0 {
		p.MaxLogCount = DefaultMaxLogCount
	}
	if p.MinLogBytes <= 0 {
		p.MinLogBytes = DefaultMinLogBytes
	}
	return m.LogCount >= p.MaxLogCount ||
		m.LogBytes >= p.MaxLogBytes ||
		(m.LogBytes >= p.MinLogBytes && m.LogBytes > m.SnapshotBytes)
}
