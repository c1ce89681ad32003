package sync

import (
	"sync/atomic"
	"time"
)

// Metrics receives the hub's measurements. The web package implements it
// with Prometheus; sync does not depend on a metrics library so that it
// can be embedded elsewhere. Methods are called from many goroutines and
// must be cheap and safe for concurrent use.
type Metrics interface {
	// MessageIn counts one decoded message from a peer; bytes is the size
	// of the frame it came in, counted on the frame's first message.
	MessageIn(t MessageType, bytes int)
	// MessageOut counts one frame written to a peer.
	MessageOut(bytes int)
	// Apply observes one ApplyUpdate.
	Apply(d time.Duration)
	// Persist observes one storage Append of n updates.
	Persist(d time.Duration, n int)
	// Error counts a failure by kind: ErrKind* below.
	Error(kind string)
}

// Error kinds reported to Metrics.Error.
const (
	ErrKindFrame     = "bad_frame"     // a frame that does not decode
	ErrKindUpdate    = "bad_update"    // an update or state vector that does not apply
	ErrKindAwareness = "bad_awareness" // an awareness update that does not decode
	ErrKindSlowPeer  = "slow_peer"     // outbox overflow
	ErrKindTooBig    = "too_big"       // a frame over the size limit
	ErrKindLoad      = "load"          // a document that failed to load
	ErrKindPersist   = "persist"       // a failed Append
	ErrKindCompact   = "compact"       // a failed compaction
	ErrKindReadOnly  = "read_only"     // an update refused from a read-only peer
	ErrKindBusy      = "busy"          // a peer or load refused at a limit (MaxDocs, MaxPeersPerDoc)
	ErrKindPolicy    = "policy"        // a peer closed for breaking a limit (rate, awareness size, pending)
	ErrKindTooLarge  = "doc_too_large" // an update refused by MaxDocBytes
)

type nopMetrics struct{}

func (nopMetrics) MessageIn(MessageType, int) {}
func (nopMetrics) MessageOut(int)             {}
func (nopMetrics) Apply(time.Duration)        {}
func (nopMetrics) Persist(time.Duration, int) {}
func (nopMetrics) Error(string)               {}

// Stats is a snapshot of the hub's counters.
type Stats struct {
	// Docs is the number of loaded documents (sessions), Peers the number
	// of connected peers.
	Docs, Peers int
	// MessagesIn/Out and BytesIn/Out count y-protocols messages and frame
	// bytes since the hub started.
	MessagesIn, MessagesOut, BytesIn, BytesOut uint64
	// Updates is the number of updates persisted; Appends the number of
	// storage Appends (group commits) that persisted them.
	Updates, Appends uint64
	// Compactions counts successful compactions.
	Compactions uint64
	// Hibernating is how many of the loaded documents are cold: they
	// hold their encoded state, not a replica (Config.HibernateAfter).
	Hibernating int
}

// counters wraps a Metrics and keeps the totals Stats reports.
type counters struct {
	next                                       Metrics
	msgsIn, msgsOut, bytesIn, bytesOut         atomic.Uint64
	updates, appends, compactions, peers, docs atomic.Int64
	hibernating                                atomic.Int64
}

func (c *counters) MessageIn(t MessageType, n int) {
	c.msgsIn.Add(1)
	c.bytesIn.Add(uint64(n))
	c.next.MessageIn(t, n)
}

func (c *counters) MessageOut(n int) {
	c.msgsOut.Add(1)
	c.bytesOut.Add(uint64(n))
	c.next.MessageOut(n)
}

func (c *counters) Apply(d time.Duration) { c.next.Apply(d) }

func (c *counters) Persist(d time.Duration, n int) {
	c.appends.Add(1)
	c.updates.Add(int64(n))
	c.next.Persist(d, n)
}

func (c *counters) Error(kind string) { c.next.Error(kind) }
