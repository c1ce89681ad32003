package sync

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

// errSessionGone is what a caller sees when the session it posted to ended
// (unloaded, deleted, failed) before handling its event; the hub retries
// with a fresh session.
var errSessionGone = errors.New("session ended")

type evKind uint8

const (
	evJoin evKind = iota + 1 // the zero event is none
	evFrame
	evLeave
	evRequest
)

// event is one entry of a session's inbox.
type event struct {
	kind   evKind
	peer   *Peer
	msgs   []Message
	req    *request
	joined chan error // evJoin: the answer, buffered
}

type reqKind uint8

const (
	reqRead reqKind = iota
	reqApply
	reqEdit
	reqCompact
	reqDelete
	reqState
)

// request is a REST-side operation run inside the session goroutine. Its
// done channel is closed only after everything the operation changed is
// durable (and, for reads, after what the read saw is durable), so a REST
// caller never sees state that a crash could take back.
type request struct {
	kind      reqKind
	fn        func(*crdt.Doc) error
	update    []byte // reqApply: the update; reqState: the state vector
	out       []byte // reqState: the answer
	err       error
	done      chan struct{}
	cancelled atomic.Bool
}

// outMsg is a message to send once the batch is durable; to == nil is a
// broadcast to every peer.
type outMsg struct {
	to  *Peer
	msg []byte
	// free: the message is the document's shared state frame, which
	// new clients share, so it does not count against a peer's outbox
	// byte limit (a join storm on a document larger than the limit must
	// not close every joiner).
	free bool
}

type compactResult struct {
	err     error
	meta    storage.Meta
	statErr error
	waiters []*request
	took    time.Duration // on the compaction goroutine: building the snapshot, if it did, and writing it
	// merge is the state of a cold document that was written, which
	// becomes its base (takeMerge).
	merge *coldMerge
}

// Session is one open document: the goroutine that owns its state (replica
// or cold encoding), awareness table and peers. Everything reaches it through its inbox,
// so the document needs no lock; see the package documentation for the
// order of operations.
type Session struct {
	hub  *Hub
	name string

	inbox inbox
	stop  chan struct{} // closed by Hub.Close
	done  chan struct{} // closed when run returns

	// err is why the session ended, if it failed; set before done closes.
	err error
	// deleteOnStart makes the session delete the document instead of
	// loading it (Hub.Delete of a document that is not loaded).
	deleteOnStart bool

	// Guarded by hub.mu.
	refs     int
	gone     bool
	evicting bool // asked to unload to make room (Hub.evictLocked)

	peerCount atomic.Int64

	// lastActive is when the session last handled an event (unix nanos),
	// for the hub's least-recently-used unloading.
	lastActive atomic.Int64
	// evict asks an idle session to unload now (Config.MaxDocs).
	evict chan struct{}

	// Owned by the session goroutine.
	//
	// The document is either hot (doc != nil: a crdt replica) or cold
	// (doc == nil): its state as one v1 update (cold) plus the updates
	// absorbed since (coldLog), judged by coldSum (a crdt.Summary: state
	// vector and delete set). A cold document answers joins and step 1
	// from the bytes and relays every update that coldSum can judge,
	// which is every update of clients that sync through this server;
	// anything else (an update with missing dependencies, a REST read or
	// edit) wakes it. A document loads cold, and goes cold again when its
	// replica has not been needed for Config.HibernateAfter. A replica
	// costs several times the encoding (docs/benchmarks.md).
	doc          *crdt.Doc
	cold         []byte // the base state as one v1 update: the tail of coldFrame
	coldFrame    []byte // cold as a sync step 2 frame, for new clients; nil while coldLog is not empty
	coldLog      [][]byte
	coldLogBytes int
	coldSum      *crdt.Summary
	coldGen      uint64 // counts the changes of cold, so that a compaction's or a fold's result replaces only the base it was built from
	folding      bool   // a merge of the log into the base runs (see absorb)
	foldDone     chan foldResult
	full         []byte    // the hot doc's whole state, encoded, until it changes
	fullFrame    []byte    // full as a step 2 frame; full is its tail
	lastUse      time.Time // of the hot doc's replica (edits that a cold document could relay do not count)
	aw           *awareness
	peers        map[*Peer]struct{}
	meta         storage.Meta
	emitted      [][]byte
	persist      [][]byte
	out          []outMsg
	// What the batch broadcasts, held until it is durable and then sent
	// as one update and one awareness message (see flushBroadcasts).
	bcast       [][]byte
	awOut       []AwarenessEntry
	waiters     []*request
	compacting  bool
	compactWait []*request
	// compactCost is what the last compaction cost (encoding on this
	// goroutine, writing on another); the policy's compactions wait
	// compactCost*compactDuty after it ends (see maybeCompact).
	compactCost  time.Duration
	nextCompact  time.Time
	compactTimer *time.Timer // armed while a compaction is held back
	compactDone  chan compactResult
	suspect      bool // a callback panicked mid-transaction: reload
}

func newSession(h *Hub, name string) *Session {
	return &Session{
		hub:         h,
		name:        name,
		inbox:       newInbox(h.cfg.InboxSize),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		peers:       map[*Peer]struct{}{},
		aw:          newAwareness(h.cfg.AwarenessTimeout, h.cfg.MaxAwarenessClients),
		compactDone: make(chan compactResult, 1),
		evict:       make(chan struct{}, 1),
	}
}

// post puts ev in the inbox, waiting while it is full: a busy session
// slows the readers feeding it, never the other way round.
func (s *Session) post(ctx context.Context, ev event) error {
	return s.inbox.put(ctx, s.done, ev)
}

// run is the session goroutine.
func (s *Session) run() {
	defer s.hub.wg.Done()
	defer close(s.done)
	if s.deleteOnStart {
		s.runDeleteOnly()
		return
	}
	t0 := time.Now()
	if err := s.load(); err != nil {
		s.err = err
		s.hub.metrics.Error(ErrKindLoad)
		s.hub.log.Error().Str("doc", s.name).Err(err).Msg("load failed; the document is not served")
		s.remove(true)
		return
	}
	s.hub.counters.docs.Add(1)
	defer s.hub.counters.docs.Add(-1)
	defer func() {
		if s.doc == nil {
			s.hub.counters.hibernating.Add(-1)
		}
	}()
	s.hub.log.Debug().Str("doc", s.name).Dur("took", time.Since(t0)).Int64("bytes", s.meta.Bytes).Int("log", s.meta.LogCount).Msg("loaded")

	cfg := &s.hub.cfg
	expire := time.NewTicker(max(cfg.AwarenessTimeout/10, 10*time.Millisecond))
	defer expire.Stop()
	grace := time.NewTimer(cfg.Grace)
	graceArmed := true
	defer grace.Stop()
	var batch []event // grows with use: an idle session holds no batch buffer
	activity := false
	var batchStart time.Time
	busy := false // the last batch held more than one event

	for {
		select {
		case <-s.inbox.ready:
			if busy {
				if d := s.batchPace() - time.Since(batchStart); d >= minPaceSleep {
					time.Sleep(d)
				}
			}
			batchStart = time.Now()
			batch = s.inbox.take(batch[:0], cfg.MaxBatch)
			if len(batch) == 0 {
				continue
			}
			busy = len(batch) > 1
			if s.process(batch) {
				s.finish(CloseInternal, "")
				return
			}
			batch = reset(batch)
			if cap(batch) > inboxKeep {
				batch = nil
			}
			activity = true
			s.lastActive.Store(time.Now().UnixNano())
		case now := <-expire.C:
			if removed := s.aw.expire(now); len(removed) > 0 {
				s.broadcastAwareness(removed)
				s.commit()
			}
			if cfg.HibernateAfter > 0 && s.doc != nil && now.Sub(s.lastUse) >= cfg.HibernateAfter {
				s.hibernate()
			}
		case <-s.evict:
			if len(s.peers) == 0 && s.inbox.len() == 0 && s.remove(false) {
				s.finish(CloseGoingAway, "")
				s.hub.log.Debug().Str("doc", s.name).Msg("unloaded to make room")
				return
			}
		case res := <-s.compactDone:
			s.compacted(res)
		case res := <-s.foldDone:
			s.folded(res)
		case <-s.compactTimerC():
			s.maybeCompact()
		case <-grace.C:
			graceArmed = false
			if len(s.peers) == 0 && s.inbox.len() == 0 && s.remove(false) {
				s.finish(CloseGoingAway, "")
				s.hub.log.Debug().Str("doc", s.name).Msg("unloaded")
				return
			}
		case <-s.stop:
			// Hub.Close: take what is already queued, make it durable,
			// then close every peer (after flushing its outbox).
			batch = s.inbox.take(batch[:0], cfg.MaxBatch)
			if len(batch) > 0 {
				s.process(batch)
			}
			s.finish(CloseGoingAway, "server shutting down")
			return
		}
		// The grace period runs while the session has no peers, and
		// starts over with every event, so that a document read often
		// over REST stays loaded.
		switch {
		case len(s.peers) > 0:
			if graceArmed {
				grace.Stop()
				graceArmed = false
			}
		case !graceArmed || activity:
			grace.Reset(cfg.Grace)
			graceArmed = true
		}
		activity = false
	}
}

// Pacing of batches. Each batch costs every peer a write (a system call
// that, on loopback, also runs the receiver's side of TCP: about 9 us on
// the project's box), so a session's fan-out costs peers × batches/s
// writes. A busy session (its last batch held more than one event)
// therefore starts a batch at most every pacePerPeer × peers (at most
// maxPace) after the last one began; the events arriving meanwhile share
// the next batch. A session with two peers never waits, one with 250
// peers up to 7.5 ms, and a session that is not busy starts at once, so
// that pacing costs no latency when edits are sparse. In a room of 250
// editors at 2 and 10 edits/s each it cut the batches by a third or
// more, the server's CPU at 2/s by a sixth, and the p99 at 10/s by a
// fifth (docs/benchmarks.md).
const (
	pacePerPeer = 30 * time.Microsecond
	maxPace     = 10 * time.Millisecond
	// Shorter waits are not worth a sleep, which the runtime may round
	// up to a millisecond when the process is otherwise idle.
	minPaceSleep = 300 * time.Microsecond
)

// batchPace is the least time between the starts of two batches.
func (s *Session) batchPace() time.Duration {
	return min(time.Duration(len(s.peers))*pacePerPeer, maxPace)
}

// load reads the snapshot and the log. A document that fails to load is
// not served at all: answering with an empty document would make clients
// think the content is gone, and a blank state written back over the
// stored one would make it so.
func (s *Session) load() error {
	s.lastUse = time.Now()
	s.lastActive.Store(s.lastUse.UnixNano())
	if s.hub.cfg.HibernateAfter > 0 {
		ok, err := s.loadCold()
		if err != nil || ok {
			return err
		}
	}
	doc, meta, err := loadDoc(s.hub.cfg.Store, s.name, s.hub.cfg.NoGC)
	if err != nil {
		return err
	}
	s.doc, s.meta = doc, meta
	s.doc.OnUpdate(s.onUpdate)
	return nil
}

// loadCold loads the document cold: its snapshot and log merged into one
// update, without a replica. It reports false, having loaded nothing, when
// the stored state is not self-contained (something in it waits for a
// dependency): only a replica can hold that.
func (s *Session) loadCold() (bool, error) {
	st, err := s.hub.cfg.Store.Load(context.Background(), s.name)
	if err != nil {
		return false, fmt.Errorf("load %q: %w", s.name, err)
	}
	parts := make([][]byte, 0, 1+len(st.Updates))
	if len(st.Snapshot) > 0 {
		parts = append(parts, st.Snapshot)
	}
	parts = append(parts, st.Updates...)
	state := []byte{0, 0}
	if len(parts) > 0 {
		if state, err = crdt.MergeUpdates(parts); err != nil {
			return false, fmt.Errorf("load %q: %w", s.name, err)
		}
	}
	sum, ok := crdt.NewSummary(state)
	if !ok {
		return false, nil
	}
	s.meta = st.Meta
	s.setCold(state, nil, sum)
	s.hub.counters.hibernating.Add(1)
	return true, nil
}

// setCold makes state (summarized by sum) the cold base, with an empty
// log. frame is state as a step 2 frame whose tail is state, or nil.
func (s *Session) setCold(state, frame []byte, sum *crdt.Summary) {
	if frame == nil {
		frame = EncodeSyncStep2(state)
		state = frame[len(frame)-len(state):]
	}
	s.cold, s.coldFrame = state, frame
	s.coldLog, s.coldLogBytes = nil, 0
	s.coldSum = sum
	s.coldGen++
}

// coldState returns the cold document's whole state as one update,
// merging the log into the base first.
func (s *Session) coldState() ([]byte, error) {
	if len(s.coldLog) == 0 {
		return s.cold, nil
	}
	m, err := mergeCold(s.cold, s.coldLog, s.coldGen, false, false)
	if err != nil {
		// Our own encodings and what the summary judged: a bug, not
		// input. The session ends, and the next one loads from the store.
		return nil, s.fail(fmt.Errorf("merge the log of %q: %w", s.name, err))
	}
	s.setCold(m.base, m.frame, s.coldSum)
	return s.cold, nil
}

// The cold log is merged into the base once it holds more bytes than a
// quarter of the base (and at least coldLogMinBytes), so that it costs a
// bounded fraction of the document's memory while a merge, linear in the
// document, comes after edits worth a quarter of it; or once it holds
// coldLogMax updates, whose slice headers cost memory too. At 250
// editors typing 2.5 characters a second each into a 120 KB document,
// that is a merge every two seconds or so; a small document merges every
// few hundred keystrokes, which costs little as it is small.
const (
	coldLogMax      = 4096
	coldLogMinBytes = 4 << 10
)

// absorb relays u on a cold document if its summary can judge it. It
// reports false when only a replica can.
func (s *Session) absorb(u []byte) (bool, error) {
	t0 := time.Now()
	added, ok := s.coldSum.Absorb(u)
	s.hub.metrics.Apply(time.Since(t0))
	if !ok {
		return false, nil
	}
	if added == nil {
		return true, nil
	}
	// The log keeps its own copy: added may be a slice of the frame it
	// came in, whose buffer is larger (gorilla reads a message into a
	// buffer that grows from 512 bytes).
	s.coldLog = append(s.coldLog, bytes.Clone(added))
	s.coldLogBytes += len(added)
	s.coldFrame = nil
	s.persist = append(s.persist, added)
	s.bcast = append(s.bcast, added)
	if !s.folding && (len(s.coldLog) >= coldLogMax || s.coldLogBytes > max(len(s.cold)/4, coldLogMinBytes)) {
		s.startFold()
	}
	return true, nil
}

// errColdState: the cold state could not be merged (see coldState).
var errColdState = errors.New("sync: cold state unavailable")

// coldMerge is a cold base built on another goroutine: the base of
// generation gen with the first n updates (bytes long) of the log merged
// in, re-encoded through a replica if sum (its summary) is set.
type coldMerge struct {
	frame, base []byte // base is the tail of frame
	sum         *crdt.Summary
	n, bytes    int
	gen         uint64
}

// mergeCold merges log into base and, with reencode, re-encodes the result
// through a replica. It runs beside the session: it only reads its input.
func mergeCold(base []byte, log [][]byte, gen uint64, reencode, noGC bool) (coldMerge, error) {
	m := coldMerge{n: len(log), gen: gen}
	state := base
	if len(log) > 0 {
		for _, u := range log {
			m.bytes += len(u)
		}
		merged, err := mergeLog(log)
		if err == nil {
			state, err = crdt.MergeUpdates([][]byte{base, merged})
		}
		if err != nil {
			return m, err
		}
	}
	if reencode {
		d := crdt.NewDoc(crdt.Options{NoGC: noGC})
		if err := d.ApplyUpdate(state); err != nil {
			return m, err
		}
		u, err := d.EncodeStateAsUpdate(nil)
		if err != nil {
			return m, err
		}
		state = u
		if m.sum, _ = d.Summary(); m.sum == nil {
			return m, fmt.Errorf("the re-encoded state waits for something")
		}
	}
	m.frame = EncodeSyncStep2(state)
	m.base = m.frame[len(m.frame)-len(state):]
	return m, nil
}

// mergeLog merges updates into one, mergeFanIn at a time: MergeUpdates
// reorders its inputs for every struct it writes, so its cost grows with
// their number, and a log holds hundreds of small updates. Merging in a
// tree, then the result with the base, costs a fraction of merging all at
// once (what the log holds is new, so the merges do not overlap).
func mergeLog(log [][]byte) ([]byte, error) {
	for len(log) > 1 {
		next := make([][]byte, 0, (len(log)+mergeFanIn-1)/mergeFanIn)
		for i := 0; i < len(log); i += mergeFanIn {
			u, err := crdt.MergeUpdates(log[i:min(i+mergeFanIn, len(log))])
			if err != nil {
				return nil, err
			}
			next = append(next, u)
		}
		log = next
	}
	return log[0], nil
}

const mergeFanIn = 16

// takeMerge makes m the cold base, unless the base changed since m was
// started; the log entries absorbed meanwhile stay. It reports whether it
// took m.
func (s *Session) takeMerge(m coldMerge) bool {
	if s.doc != nil || s.coldGen != m.gen {
		return false
	}
	rest := slices.Clone(s.coldLog[m.n:])
	sum := s.coldSum
	if m.sum != nil {
		// A re-encoded state may know deletions the merged updates did
		// not name (every replica makes them on integration): judge the
		// rest against its summary again.
		sum = m.sum
		for _, u := range rest {
			if _, ok := sum.Absorb(u); !ok {
				s.hub.log.Warn().Str("doc", s.name).Msg("re-encoded state does not take the log; keeping the merged one")
				return false
			}
		}
	}
	n := s.coldLogBytes - m.bytes
	s.setCold(m.base, m.frame, sum)
	if len(rest) > 0 {
		s.coldLog, s.coldLogBytes, s.coldFrame = rest, n, nil
	}
	return true
}

// foldResult is what a fold sends back.
type foldResult struct {
	merge coldMerge
	err   error
}

// startFold merges the log into the base on another goroutine: the merge
// is linear in the document (5 ms for the 223 KB automerge-paper
// document), too long to hold up a busy session every few hundred edits.
// Absorbing goes on meanwhile; takeMerge keeps what came after.
func (s *Session) startFold() {
	if s.foldDone == nil {
		s.foldDone = make(chan foldResult, 1)
	}
	s.folding = true
	base, log, gen := s.cold, s.coldLog, s.coldGen
	go func() {
		m, err := mergeCold(base, log, gen, false, false)
		s.foldDone <- foldResult{m, err}
	}()
}

func (s *Session) folded(res foldResult) {
	s.folding = false
	if res.err != nil {
		// Our own encodings and what the summary judged: a bug, not input.
		s.hub.log.Error().Str("doc", s.name).Err(res.err).Msg("merging the log failed")
		return
	}
	s.takeMerge(res.merge)
}

func (s *Session) onUpdate(u []byte) { s.emitted = append(s.emitted, u) }

// loadDoc reads a document's snapshot and log from store into a new
// replica.
func loadDoc(store storage.Store, name string, noGC bool) (*crdt.Doc, storage.Meta, error) {
	st, err := store.Load(context.Background(), name)
	if err != nil {
		return nil, storage.Meta{}, fmt.Errorf("load %q: %w", name, err)
	}
	doc := crdt.NewDoc(crdt.Options{NoGC: noGC})
	if len(st.Snapshot) > 0 {
		if err := doc.ApplyUpdate(st.Snapshot); err != nil {
			return nil, storage.Meta{}, fmt.Errorf("load %q: snapshot: %w", name, err)
		}
	}
	for i, u := range st.Updates {
		if err := doc.ApplyUpdate(u); err != nil {
			return nil, storage.Meta{}, fmt.Errorf("load %q: log entry %d: %w", name, st.Meta.SnapshotSeq+1+uint64(i), err)
		}
	}
	return doc, st.Meta, nil
}

// hot returns the replica, decoding it from the hibernated state first if
// need be. The caller is about to change or read it.
func (s *Session) hot() (*crdt.Doc, error) {
	s.lastUse = time.Now()
	if s.doc != nil {
		return s.doc, nil
	}
	t0 := time.Now()
	d := crdt.NewDoc(crdt.Options{NoGC: s.hub.cfg.NoGC})
	for _, u := range append([][]byte{s.cold}, s.coldLog...) {
		if err := d.ApplyUpdate(u); err != nil {
			// The bytes are our own encoding of a state we held, or what
			// the summary judged: failing to read them back is a bug,
			// not bad input.
			return nil, fmt.Errorf("wake %q: %w", s.name, err)
		}
	}
	d.OnUpdate(s.onUpdate)
	s.doc, s.cold, s.coldFrame, s.coldLog, s.coldLogBytes, s.coldSum = d, nil, nil, nil, 0, nil
	s.coldGen++
	s.hub.counters.hibernating.Add(-1)
	s.hub.log.Debug().Str("doc", s.name).Dur("took", time.Since(t0)).Msg("woke")
	return d, nil
}

// hibernate trades the replica for its encoding, which is several times
// smaller (docs/benchmarks.md). A state that cannot be encoded keeps the
// replica.
func (s *Session) hibernate() {
	sum, ok := s.doc.Summary()
	if !ok {
		// Something waits for a dependency: only the replica can hold it.
		s.lastUse = time.Now()
		return
	}
	snap, err := s.fullState()
	if err != nil {
		s.hub.log.Error().Str("doc", s.name).Err(err).Msg("encode for hibernation failed; staying awake")
		s.lastUse = time.Now()
		return
	}
	s.setCold(snap, s.fullFrame, sum)
	s.doc, s.full, s.fullFrame = nil, nil, nil
	s.hub.counters.hibernating.Add(1)
	s.hub.log.Debug().Str("doc", s.name).Int("bytes", len(snap)).Msg("hibernating")
}

// stateVector is the document's state vector, hot or not.
func (s *Session) stateVector() []byte {
	if s.doc == nil {
		return s.coldSum.StateVector()
	}
	return s.doc.EncodeStateVector()
}

// step2 is the sync step 2 frame for a peer with state vector sv: what it
// lacks. A new client (empty state vector) gets the whole state, as one
// frame shared by every new client until the document changes, so that
// many opening a large document at once cost one encoding and one copy.
// A cold document answers from its bytes (see stateFor). shared reports that the
// frame is that shared one.
func (s *Session) step2(sv []byte) (frame []byte, shared bool, err error) {
	if !isEmptySV(sv) {
		u, err := s.stateFor(sv)
		if err != nil {
			return nil, false, err
		}
		return EncodeSyncStep2(u), false, nil
	}
	if s.doc != nil {
		s.lastUse = time.Now()
		if _, err := s.fullState(); err != nil {
			return nil, false, err
		}
		return s.fullFrame, true, nil
	}
	if _, err := s.coldState(); err != nil {
		return nil, false, errColdState
	}
	return s.coldFrame, true, nil
}

// isEmptySV reports a state vector with no entries. An empty slice is read
// as one, as crdt.Doc.EncodeStateAsUpdate reads it, hot or cold.
func isEmptySV(sv []byte) bool { return len(sv) == 0 || len(sv) == 1 && sv[0] == 0 }

// stateFor returns what a peer with state vector sv lacks, as a v1 update
// (the whole state for an empty one). A cold document answers from its
// bytes: a peer that has every struct gets the delete set (without a pass
// over the document), one that lacks some a byte-level diff.
func (s *Session) stateFor(sv []byte) ([]byte, error) {
	if s.doc != nil {
		s.lastUse = time.Now()
		return s.doc.EncodeStateAsUpdate(sv)
	}
	if !isEmptySV(sv) {
		u, ok, err := s.coldSum.UpdateFor(sv)
		if err != nil || ok {
			return u, err
		}
	}
	state, err := s.coldState()
	if err != nil {
		return nil, errColdState
	}
	if isEmptySV(sv) {
		return state, nil
	}
	return crdt.DiffUpdate(state, sv)
}

// fullState encodes the hot document's whole state, once per change.
func (s *Session) fullState() ([]byte, error) {
	if s.full == nil {
		u, err := s.doc.EncodeStateAsUpdate(nil)
		if err != nil {
			return nil, err
		}
		f := EncodeSyncStep2(u)
		s.fullFrame, s.full = f, f[len(f)-len(u):]
	}
	return s.full, nil
}

// process handles one batch of events and makes it durable. It reports
// whether the session must end (a delete, or a storage failure).
func (s *Session) process(batch []event) (end bool) {
	for _, ev := range batch {
		switch ev.kind {
		case evJoin:
			s.join(ev)
		case evFrame:
			s.frame(ev.peer, ev.msgs)
		case evLeave:
			if _, ok := s.peers[ev.peer]; ok {
				s.dropPeer(ev.peer)
			}
		case evRequest:
			if ev.req.kind == reqDelete {
				if s.commit() {
					return true
				}
				s.delete(ev.req)
				return true
			}
			s.request(ev.req)
		}
	}
	if s.commit() {
		return true
	}
	return s.suspect
}

func (s *Session) join(ev event) {
	p := ev.peer
	if len(s.peers) >= s.hub.cfg.MaxPeersPerDoc {
		s.hub.metrics.Error(ErrKindBusy)
		s.hub.log.Warn().Str("doc", s.name).Str("remote", p.conn.RemoteAddr()).Int("peers", len(s.peers)).
			Msg("document full; peer refused")
		ev.joined <- ErrBusy
		return
	}
	s.peers[p] = struct{}{}
	s.peerCount.Store(int64(len(s.peers)))
	s.out = append(s.out, outMsg{to: p, msg: EncodeSyncStep1(s.stateVector())})
	if st := s.aw.states(); len(st) > 0 {
		s.out = append(s.out, outMsg{to: p, msg: EncodeAwareness(EncodeAwarenessUpdate(st))})
	}
	ev.joined <- nil
}

// frame handles the messages of one frame from p. Bad input closes p and
// nothing else; the messages before the bad one stand.
func (s *Session) frame(p *Peer, msgs []Message) {
	if _, ok := s.peers[p]; !ok {
		return // dropped earlier in this batch
	}
	for _, m := range msgs {
		switch m.Type {
		case MsgSync:
			switch m.Sync {
			case SyncStep1:
				frame, shared, err := s.step2(m.Payload)
				if errors.Is(err, errColdState) {
					return // the session has failed and ends with this batch
				} else if err != nil {
					s.badInput(p, ErrKindUpdate, "malformed state vector", err)
					return
				}
				s.out = append(s.out, outMsg{to: p, msg: frame, free: shared})
			case SyncStep2, SyncUpdate:
				if p.readOnly {
					s.refuse(p, m.Payload)
					continue
				}
				if err := s.apply(m.Payload); errors.Is(err, ErrDocTooLarge) {
					s.tooLarge(p, len(m.Payload))
					return
				} else if errors.Is(err, ErrPending) {
					s.policy(p, "too many updates with missing dependencies", err.Error())
					return
				} else if err != nil {
					s.badInput(p, ErrKindUpdate, "malformed update", err)
					return
				}
			}
		case MsgAwareness:
			entries, err := DecodeAwarenessUpdate(m.Payload)
			if err != nil {
				s.badInput(p, ErrKindAwareness, "malformed awareness update", err)
				return
			}
			if big := largestState(entries); big > s.hub.cfg.MaxAwarenessBytes {
				s.policy(p, "awareness state too large", fmt.Sprintf("%d bytes, limit %d", big, s.hub.cfg.MaxAwarenessBytes))
				return
			}
			changed, ignored := s.aw.apply(p, entries, time.Now())
			if ignored > 0 {
				s.hub.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Int("clients", ignored).
					Msg("awareness table full; new clients ignored")
			}
			if len(changed) > 0 {
				s.broadcastAwareness(changed)
			}
		case MsgQueryAwareness:
			s.out = append(s.out, outMsg{to: p, msg: EncodeAwareness(EncodeAwarenessUpdate(s.aw.states()))})
		default:
			// Auth from a client and unknown types are ignored, as the
			// reference server does: newer clients may send more.
		}
	}
}

// refuse answers an update from a read-only peer. A read-only client still
// sends its step 2 (empty when it has nothing new) after every step 1, so
// only an update that carries something is refused and logged.
func (s *Session) refuse(p *Peer, u []byte) {
	if isEmptyUpdate(u) {
		return
	}
	s.hub.metrics.Error(ErrKindReadOnly)
	s.hub.log.Info().Str("doc", s.name).Uint64("peer", p.id).Int("bytes", len(u)).
		Msg("update from a read-only peer refused")
	s.out = append(s.out, outMsg{to: p, msg: EncodeAuthDenied("read-only access: update refused")})
}

func (s *Session) broadcastAwareness(entries []AwarenessEntry) {
	s.awOut = append(s.awOut, entries...)
}

// apply integrates an update from a peer or the REST API. The received
// bytes are persisted when they changed the document or left something
// pending in it, so nothing a peer sent is lost even when it cannot be
// integrated yet; what is broadcast is the update the document emitted
// (what actually changed), as the reference server does.
func (s *Session) apply(u []byte) error {
	if isEmptyUpdate(u) {
		if s.doc == nil {
			return nil // every client's step 2 when it has nothing new
		}
	} else if s.size()+int64(len(u)) > s.hub.cfg.MaxDocBytes {
		// An update grows the encoded document by at most about its own
		// size; refusing before applying leaves the document untouched,
		// which the crdt could not undo afterwards.
		return ErrDocTooLarge
	}
	if s.doc == nil {
		if ok, err := s.absorb(u); ok || err != nil {
			return err
		}
	}
	// Applying to a replica does not count as using it (lastUse): edits
	// alone would let a cold document relay them.
	doc := s.doc
	if doc == nil {
		var err error
		if doc, err = s.hot(); err != nil {
			return s.fail(err)
		}
	}
	s.emitted = s.emitted[:0]
	s.full, s.fullFrame = nil, nil
	pending0 := doc.PendingSize()
	t0 := time.Now()
	err := doc.ApplyUpdate(u)
	s.hub.metrics.Apply(time.Since(t0))
	if err != nil {
		// A malformed update applies nothing; should the crdt ever have
		// changed something anyway, keep disk and peers in step with it.
		s.emitChanges()
		return err
	}
	pending := doc.PendingSize()
	if int64(pending) > s.hub.cfg.MaxPendingBytes {
		// Whatever integrated stands (and is persisted and broadcast);
		// what waits is dropped, and a compaction takes it out of the
		// log, so the document is as if the waiting part never came.
		doc.DropPending()
		s.compactWait = append(s.compactWait, &request{kind: reqCompact, done: make(chan struct{})})
		if len(s.emitted) > 0 {
			s.persist = append(s.persist, u)
			s.broadcastEmitted()
		}
		return fmt.Errorf("%w: %d bytes wait for missing dependencies, limit %d", ErrPending, pending, s.hub.cfg.MaxPendingBytes)
	}
	// The received bytes are kept when they changed the document or added
	// to what waits in it: a restart must not lose what a peer sent even
	// if it could not be integrated yet.
	if len(s.emitted) > 0 || pending > pending0 {
		s.persist = append(s.persist, u)
		s.broadcastEmitted()
	}
	return nil
}

// size is the document's stored size: snapshot and log on disk, plus what
// this batch is about to append.
func (s *Session) size() int64 {
	n := s.meta.Bytes
	for _, u := range s.persist {
		n += int64(len(u))
	}
	return n
}

// tooLarge closes p, whose update would grow the document past
// MaxDocBytes. The close code is permanent for y-websocket clients, so
// that the client does not reconnect and send the same update again.
func (s *Session) tooLarge(p *Peer, n int) {
	s.hub.metrics.Error(ErrKindTooLarge)
	s.hub.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).
		Int("update", n).Int64("size", s.size()).Int64("limit", s.hub.cfg.MaxDocBytes).
		Msg("update would grow the document past its size limit; refused, closing the peer")
	p.close(CloseDocTooLarge, "document size limit reached", false)
	s.dropPeer(p)
}

// emitChanges persists and broadcasts what the document emitted (a local
// edit).
func (s *Session) emitChanges() {
	s.persist = append(s.persist, s.emitted...)
	s.broadcastEmitted()
}

func (s *Session) broadcastEmitted() {
	s.bcast = append(s.bcast, s.emitted...)
	s.emitted = s.emitted[:0]
}

// flushBroadcasts turns what the batch broadcasts into messages: the
// updates merged into one, and the awareness changes into one message with
// the latest entry of each client. In a busy room a batch holds an edit
// and a cursor move from many peers; sent one by one they would cost every
// peer two frames per edit, and every y-websocket provider one awareness
// echo per cursor move. Merged, a peer gets two frames per batch.
func (s *Session) flushBroadcasts() {
	switch len(s.bcast) {
	case 0:
	case 1:
		s.out = append(s.out, outMsg{msg: EncodeSyncUpdate(s.bcast[0])})
	default:
		if u, err := crdt.MergeUpdates(s.bcast); err == nil {
			s.out = append(s.out, outMsg{msg: EncodeSyncUpdate(u)})
		} else {
			// The updates are the document's own encodings; failing to
			// merge them is a bug. Sending them as they are still
			// delivers everything.
			s.hub.log.Error().Str("doc", s.name).Err(err).Msg("merging the batch's updates failed; sending them one by one")
			for _, u := range s.bcast {
				s.out = append(s.out, outMsg{msg: EncodeSyncUpdate(u)})
			}
		}
	}
	if len(s.awOut) > 0 {
		s.out = append(s.out, outMsg{msg: EncodeAwareness(EncodeAwarenessUpdate(latestEntries(s.awOut)))})
	}
	s.bcast, s.awOut = reset(s.bcast), reset(s.awOut)
}

// discardOutput drops everything the batch would have sent: it was not
// made durable.
func (s *Session) discardOutput() {
	s.out, s.bcast, s.awOut = reset(s.out), reset(s.bcast), reset(s.awOut)
}

// reset empties a buffer for reuse, zeroing it so that it holds on to
// nothing it referred to.
func reset[T any](b []T) []T {
	clear(b)
	return b[:0]
}

// latestEntries keeps the last entry of each client in es (a later entry
// of a batch supersedes an earlier one), ordered by client id. It reuses
// es.
func latestEntries(es []AwarenessEntry) []AwarenessEntry {
	if len(es) < 2 {
		return es
	}
	slices.SortStableFunc(es, func(a, b AwarenessEntry) int { return cmp.Compare(a.ClientID, b.ClientID) })
	out := es[:0]
	for i, e := range es {
		if i+1 < len(es) && es[i+1].ClientID == e.ClientID {
			continue
		}
		out = append(out, e)
	}
	return out
}

// isEmptyUpdate reports whether u is the empty v1 update (no structs, no
// deletions), which every client sends as its step 2 when it has nothing
// new.
func isEmptyUpdate(u []byte) bool { return len(u) == 2 && u[0] == 0 && u[1] == 0 }

func largestState(entries []AwarenessEntry) int {
	n := 0
	for _, e := range entries {
		n = max(n, len(e.State))
	}
	return n
}

// policy closes p for breaking a limit.
func (s *Session) policy(p *Peer, reason, detail string) {
	s.hub.metrics.Error(ErrKindPolicy)
	s.hub.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).
		Str("detail", detail).Msg(reason + "; closing the peer")
	p.close(ClosePolicy, reason, false)
	s.dropPeer(p)
}

func (s *Session) badInput(p *Peer, kind, reason string, err error) {
	s.hub.metrics.Error(kind)
	s.hub.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).
		Err(err).Msg(reason + "; closing the peer")
	p.close(CloseInvalidPayload, reason, false)
	s.dropPeer(p)
}

// dropPeer forgets p and announces the removal of its awareness states.
func (s *Session) dropPeer(p *Peer) {
	delete(s.peers, p)
	s.peerCount.Store(int64(len(s.peers)))
	if removed := s.aw.removePeer(p, time.Now()); len(removed) > 0 {
		s.broadcastAwareness(removed)
	}
}

// fail marks the session failed by err (it ends after this batch; peers
// reconnect to a fresh load) and returns err.
func (s *Session) fail(err error) error {
	s.hub.log.Error().Str("doc", s.name).Err(err).Msg("session failed; reloading")
	s.err = err
	s.suspect = true
	return err
}

// request runs a REST operation.
func (s *Session) request(r *request) {
	if r.cancelled.Load() {
		close(r.done)
		return
	}
	switch r.kind {
	case reqRead:
		r.err = s.call(r.fn, false)
	case reqApply:
		r.err = s.apply(r.update)
	case reqState:
		r.out, r.err = s.stateFor(r.update)
	case reqEdit:
		doc, err := s.hot()
		if err != nil {
			r.err = s.fail(err)
			break
		}
		s.emitted = s.emitted[:0]
		s.full, s.fullFrame = nil, nil
		doc.Transact(func() { r.err = s.call(r.fn, true) })
		s.emitChanges()
	case reqCompact:
		s.compactWait = append(s.compactWait, r)
		return
	}
	s.waiters = append(s.waiters, r)
}

// call runs a caller's function on the document. A panic (the crdt panics,
// for one, when a root is used as the wrong type) becomes an error for
// that caller. A panic in an edit may have interrupted a transaction, so
// the session then ends (its peers reconnect) and the document is
// reloaded from storage; a read leaves the document as it was.
func (s *Session) call(fn func(*crdt.Doc) error, edit bool) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sync: document callback panicked: %v", v)
			msg := "document read panicked"
			if edit {
				s.suspect = true
				msg = "document edit panicked; reloading the document"
			}
			s.hub.log.Error().Str("doc", s.name).Interface("panic", v).Msg(msg)
		}
	}()
	doc, err := s.hot()
	if err != nil {
		return s.fail(err)
	}
	return fn(doc)
}

// commit makes the batch durable, then sends what it produced and
// answers its requests: persist before broadcast. It reports whether the
// session must end because storage failed; then nothing is sent, peers are
// closed so they reconnect and resync against what is on disk, and every
// waiting request fails.
func (s *Session) commit() (failed bool) {
	if len(s.persist) > 0 {
		t0 := time.Now()
		meta, err := s.hub.cfg.Store.Append(context.Background(), s.name, s.persist...)
		s.hub.metrics.Persist(time.Since(t0), len(s.persist))
		s.persist = reset(s.persist)
		if err != nil {
			s.hub.metrics.Error(ErrKindPersist)
			s.hub.log.Error().Str("doc", s.name).Err(err).Msg("persist failed; closing peers so that they resync")
			s.err = fmt.Errorf("persist %q: %w", s.name, err)
			for _, r := range s.waiters {
				r.err = s.err
			}
			s.discardOutput()
			s.completeWaiters()
			return true
		}
		s.meta = meta
	}
	s.deliver()
	s.out = reset(s.out)
	s.completeWaiters()
	s.maybeCompact()
	return false
}

// deliver hands out what the batch produced. Each peer gets its share in
// one push (one wake of its writer, and so one write on the wire for the
// whole batch): the answers meant for it in the order the batch produced
// them, then the batch's broadcasts. Broadcasts only ever add to what a
// peer knows, so sending them after an answer loses nothing.
func (s *Session) deliver() {
	for {
		s.flushBroadcasts()
		if len(s.out) == 0 {
			return
		}
		out := s.out
		s.out = nil // a peer dropped below announces its leave here
		direct := false
		for _, o := range out {
			if o.to != nil {
				direct = true
				break
			}
		}
		var mine [][]byte
		cost := 0
		if !direct { // the common case: the same for everyone
			for _, o := range out {
				mine = append(mine, o.msg)
				cost += len(o.msg)
			}
		}
		for p := range s.peers {
			if direct {
				mine, cost = mine[:0], 0
				for _, o := range out {
					if o.to == nil || o.to == p {
						mine = append(mine, o.msg)
						if !o.free {
							cost += len(o.msg)
						}
					}
				}
			}
			if len(mine) > 0 && !p.send(mine, cost) {
				s.slowPeer(p)
			}
		}
		clear(out)
		if s.out == nil {
			s.out = out[:0]
		}
	}
}

func (s *Session) completeWaiters() {
	for _, r := range s.waiters {
		close(r.done)
	}
	s.waiters = reset(s.waiters)
}

func (s *Session) slowPeer(p *Peer) {
	s.hub.metrics.Error(ErrKindSlowPeer)
	s.hub.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).
		Msg("outbox overflow; closing the peer, it will resync on reconnect")
	p.close(CloseTryAgainLater, "too slow: outbox overflow, reconnect", false)
	s.dropPeer(p)
}

// A compaction of a document under heavy editing is held back so that
// compacting takes at most about 1/compactDuty of the time, however often
// the policy's thresholds are crossed. In a busy room the log crosses them
// several times a second, and each compaction encodes the whole document
// and writes it under bbolt's single writer: unthrottled, a 500 KB
// document in a room of 250 editors spent a tenth of the server's CPU
// compacting. The log grows meanwhile, which costs only replay time at the
// next load. Compact requests and unloading are not held back.
const (
	compactDuty     = 50
	maxCompactDelay = time.Minute
)

// compactTimerC is the channel of the held-back compaction's timer; nil
// (never ready) when there is none.
func (s *Session) compactTimerC() <-chan time.Time {
	if s.compactTimer == nil {
		return nil
	}
	return s.compactTimer.C
}

// maybeCompact starts a compaction when the store's policy (or a Compact
// request) asks for one and the last one is long enough ago. The write
// runs on its own goroutine so that editing goes on, which Compact's
// through makes safe: the log entries appended meanwhile stay and are
// replayed on top of the snapshot.
func (s *Session) maybeCompact() {
	if s.compacting {
		return
	}
	if len(s.compactWait) == 0 {
		if !storage.NeedsCompaction(s.meta, s.hub.cfg.Policy) {
			return
		}
		if wait := time.Until(s.nextCompact); wait > 0 {
			// Come back when it is time, edits or not.
			if s.compactTimer == nil {
				s.compactTimer = time.NewTimer(wait)
			} else {
				s.compactTimer.Reset(wait)
			}
			return
		}
	}
	waiters := s.compactWait
	s.compactWait = nil
	if s.meta.LogCount == 0 {
		for _, r := range waiters {
			close(r.done)
		}
		return
	}
	s.startCompaction(waiters, len(waiters) > 0)
}

// startCompaction starts writing a snapshot. The snapshot of a hot
// document whose encoding is not at hand is built, unless replica is set,
// from what is stored, on the compaction goroutine: encoding the replica
// here would hold up every peer for as long as that takes (40 ms for the
// 1 MB document of a room of 250 editors, whose 10 edits/s each made that
// a stall every two seconds). What is stored is the same state, durable by
// construction. Compact requests use the replica, since a drop of pending
// data (which also asks for one) is only in the replica; so does a session
// that ends, which has nothing else to do, and a document larger than
// maxStoreCompactBytes, for which a second replica would cost more memory
// (several times its size, for as long as the compaction runs) than a
// rare stall costs time.
func (s *Session) startCompaction(waiters []*request, replica bool) {
	t0 := time.Now()
	var snap []byte
	var err error
	fromStore := s.doc != nil && s.full == nil && !replica && s.meta.Bytes <= maxStoreCompactBytes
	if s.doc != nil && !fromStore {
		snap, err = s.fullState()
	}
	// A cold document's state is its base and log, merged on the
	// compaction goroutine; up to maxStoreCompactBytes it is also
	// re-encoded through a replica there, which drops deleted content and
	// joins runs of typing, and the result becomes the new base (see
	// compacted).
	cold := s.doc == nil
	base, log, gen := s.cold, s.coldLog, s.coldGen
	reencode := cold && int64(len(s.cold)+s.coldLogBytes) <= maxStoreCompactBytes
	s.compactCost = time.Since(t0)
	if err != nil {
		s.hub.metrics.Error(ErrKindCompact)
		s.hub.log.Error().Str("doc", s.name).Err(err).Msg("encode snapshot failed")
		for _, r := range waiters {
			r.err = err
			close(r.done)
		}
		return
	}
	through := s.meta.LastSeq
	store, name, noGC := s.hub.cfg.Store, s.name, s.hub.cfg.NoGC
	s.compacting = true
	go func() {
		res := compactResult{waiters: waiters}
		t0 := time.Now()
		switch {
		case fromStore:
			snap, through, res.err = snapshotFromStore(store, name, noGC)
		case cold:
			var m coldMerge
			if m, res.err = mergeCold(base, log, gen, reencode, noGC); res.err == nil {
				snap, res.merge = m.base, &m
			}
		}
		if res.err == nil {
			res.err = store.Compact(context.Background(), name, snap, through)
		}
		res.took = time.Since(t0)
		if res.err == nil {
			res.meta, res.statErr = store.Stat(context.Background(), name)
		}
		s.compactDone <- res
	}()
}

// maxStoreCompactBytes is the largest stored document whose compaction is
// built from the store (see startCompaction). A variable for tests.
var maxStoreCompactBytes int64 = 16 << 20

// snapshotFromStore encodes the stored state of name as one update, and
// returns the log position it covers.
func snapshotFromStore(store storage.Store, name string, noGC bool) ([]byte, uint64, error) {
	doc, meta, err := loadDoc(store, name, noGC)
	if err != nil {
		return nil, 0, err
	}
	snap, err := doc.EncodeStateAsUpdate(nil)
	return snap, meta.LastSeq, err
}

func (s *Session) compacted(res compactResult) {
	s.compacting = false
	s.compactCost += res.took
	s.nextCompact = time.Now().Add(min(s.compactCost*compactDuty, maxCompactDelay))
	if res.err != nil {
		s.hub.metrics.Error(ErrKindCompact)
		s.hub.log.Error().Str("doc", s.name).Err(res.err).Msg("compaction failed")
	} else {
		s.hub.counters.compactions.Add(1)
		// An Append after the compaction returned a Meta that already
		// reflects it, with a later LastSeq; keep the newest.
		if res.statErr == nil && res.meta.LastSeq >= s.meta.LastSeq {
			s.meta = res.meta
		}
		if res.merge != nil {
			s.takeMerge(*res.merge)
		}
	}
	for _, r := range res.waiters {
		r.err = res.err
		close(r.done)
	}
	s.maybeCompact()
}

// unloadCompactMin is the log length at which a document is compacted when
// it is unloaded, so that its next load replays a short log.
const unloadCompactMin = 32

// finish ends the session: closes the peers, waits for a compaction in
// flight (compacting first if the log is long and the session ends
// normally), and answers whatever is still waiting.
func (s *Session) finish(code int, reason string) {
	if code != CloseInternal && !s.compacting && s.meta.LogCount >= unloadCompactMin && !s.suspect && s.err == nil {
		s.startCompaction(nil, true)
	}
	if s.err != nil || s.suspect {
		code, reason = CloseInternal, "server error, reconnect"
	}
	for p := range s.peers {
		p.close(code, reason, code == CloseGoingAway)
	}
	clear(s.peers)
	s.peerCount.Store(0)
	if s.compacting {
		s.compacted(<-s.compactDone)
	}
	for _, r := range s.compactWait {
		r.err = errSessionGone
		close(r.done)
	}
	s.compactWait = nil
	s.remove(true)
}

// remove takes the session out of the hub so that the next user of the
// name starts a new one. With force false (the grace period ended) it
// does so only if no one holds the session; a session that ends for a
// failure, a delete or a shutdown is removed whatever its references, and
// their holders see errSessionGone. It reports whether the session is
// gone.
func (s *Session) remove(force bool) bool {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.gone && !force && s.refs > 0 {
		return false
	}
	s.gone = true
	if h.sessions[s.name] == s {
		delete(h.sessions, s.name)
	}
	return true
}

// delete removes the document: its peers are closed with
// CloseDocumentDeleted so that they do not upload it again.
func (s *Session) delete(r *request) {
	err := s.hub.cfg.Store.Delete(context.Background(), s.name)
	if errors.Is(err, storage.ErrNotFound) {
		err = nil // loaded but never written
	}
	r.err = err
	for p := range s.peers {
		p.close(CloseDocumentDeleted, "document deleted", false)
	}
	clear(s.peers)
	s.peerCount.Store(0)
	if s.compacting {
		// The compaction may land after the delete and recreate the
		// document: wait for it, then delete again.
		res := <-s.compactDone
		s.compacting = false
		for _, w := range res.waiters {
			w.err = errSessionGone
			close(w.done)
		}
		if res.err == nil {
			if err := s.hub.cfg.Store.Delete(context.Background(), s.name); err != nil && !errors.Is(err, storage.ErrNotFound) {
				r.err = err
			}
		}
	}
	s.remove(true)
	close(r.done)
}

// runDeleteOnly is the life of a session created to delete a document
// that was not loaded: it holds the name while the store deletes it, so
// that a concurrent join waits and then loads what is left (nothing).
func (s *Session) runDeleteOnly() {
	<-s.inbox.ready // Hub.Delete posts exactly one delete request first
	s.delete(s.inbox.take(nil, 1)[0].req)
}
