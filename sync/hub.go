package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	gosync "sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

// Errors of the hub; test with errors.Is.
var (
	// ErrClosed: the hub is shutting down or shut down.
	ErrClosed = errors.New("sync: hub closed")
	// ErrNotFound: no such document (neither stored nor loaded).
	ErrNotFound = errors.New("sync: document not found")
	// ErrInvalidName: a document name the server does not accept.
	ErrInvalidName = errors.New("sync: invalid document name")
	// ErrExpired: the peer's credentials had lapsed before it joined.
	ErrExpired = errors.New("sync: credentials expired")
	// ErrBusy: the server is at a limit (loaded documents, peers of a
	// document); try again later.
	ErrBusy = errors.New("sync: server busy")
	// ErrDocTooLarge: the update would grow the document past
	// Config.MaxDocBytes; nothing was applied.
	ErrDocTooLarge = errors.New("sync: document too large")
	// ErrPending: the update depends on data the document does not have,
	// and more than Config.MaxPendingBytes would wait for it; what waited
	// was dropped.
	ErrPending = errors.New("sync: too much waiting for missing dependencies")
)

// Config configures a Hub. Zero fields take the defaults.
type Config struct {
	// Store keeps the documents. Required. The hub does not close it.
	Store storage.Store
	// Policy decides when a document's log is compacted.
	Policy storage.Policy
	// NoGC keeps deleted content in loaded documents (for history).
	NoGC bool
	// Log receives the hub's log lines. Default: discard.
	Log *zerolog.Logger
	// Metrics receives measurements. Default: none.
	Metrics Metrics
	// Grace is how long a document stays loaded after its last peer left
	// (and after its last REST access). Default 30 s.
	Grace time.Duration
	// OutboxMessages and OutboxBytes bound each peer's queue of unsent
	// messages; a peer that falls further behind is closed with
	// CloseTryAgainLater. Defaults 1024 and 4 MiB.
	OutboxMessages int
	OutboxBytes    int
	// InboxSize is the capacity of a session's inbox; MaxBatch the most
	// events handled (and persisted in one Append) at once. Defaults 128
	// and 256. A reader that finds the inbox full waits, which slows that
	// connection, not the session; an idle session's inbox holds no
	// buffer.
	InboxSize int
	MaxBatch  int
	// PingInterval is how often peers are pinged; KeepaliveInterval how
	// long a peer may go without a message before it is sent an empty
	// awareness update. Defaults 15 s and 15 s.
	PingInterval      time.Duration
	KeepaliveInterval time.Duration
	// AwarenessTimeout: awareness states not renewed for this long are
	// removed. Default 30 s, as y-protocols.
	AwarenessTimeout time.Duration
	// MaxAwarenessClients bounds one document's awareness table. Default
	// 4096.
	MaxAwarenessClients int

	// Limits. Each protects the process from one peer or one document;
	// a peer that breaks one is closed with the code named, and nothing
	// else is affected.

	// MaxPeersPerDoc: a peer joining a document that has this many is
	// refused (CloseTryAgainLater, "document full"). Default 1000.
	MaxPeersPerDoc int
	// MaxDocs bounds the loaded documents: at the limit, the least
	// recently used document without peers is unloaded to make room, and
	// if every loaded document has peers the new one is refused (ErrBusy;
	// CloseTryAgainLater on a socket, 503 over REST). Default 10000.
	MaxDocs int
	// MaxDocBytes: an update that would grow a document's encoded state
	// past this is refused and the document left as it was (the peer is
	// closed with CloseDocTooLarge; REST gets ErrDocTooLarge). Default
	// 64 MiB.
	MaxDocBytes int64
	// MaxPendingBytes: a peer whose updates leave more than this held
	// pending (waiting for dependencies that never arrive) is closed with
	// ClosePolicy. Default 4 MiB.
	MaxPendingBytes int64
	// MaxAwarenessBytes bounds one client's awareness state (JSON bytes);
	// a larger one closes the peer with ClosePolicy. Default 64 KiB.
	MaxAwarenessBytes int
	// RateMessages (per second) and RateBytes (per second) are each
	// peer's token buckets, with bursts of RateBurstMessages and
	// RateBurstBytes; a peer that exhausts one is closed with ClosePolicy.
	// Defaults 2000/s (burst 20000) and 4 MiB/s (burst 32 MiB). The
	// message rate is high on purpose: a y-websocket provider sends back
	// every awareness change it receives, so in a room of N people
	// moving their cursors each peer sends about N times the room's
	// cursor rate, all of it legitimate (and cheap: an echo changes
	// nothing and is not broadcast).
	RateMessages      float64
	RateBurstMessages int
	RateBytes         float64
	RateBurstBytes    int
	// HibernateAfter: documents load cold (their encoded state and a
	// crdt.Summary) and relay the updates the summary can judge without a
	// replica; a replica, woken by a REST read or edit or by an update
	// only it can judge, is dropped again after it has not been needed
	// for this long. Peers stay connected throughout. Default 30 s;
	// negative: every document holds a replica from load to unload.
	HibernateAfter time.Duration
}

// Defaults for Config.
const (
	DefaultGrace               = 30 * time.Second
	DefaultOutboxMessages      = 1024
	DefaultOutboxBytes         = 4 << 20
	DefaultInboxSize           = 128
	DefaultMaxBatch            = 256
	DefaultPingInterval        = 15 * time.Second
	DefaultKeepaliveInterval   = 15 * time.Second
	DefaultMaxAwarenessClients = 4096
	DefaultMaxPeersPerDoc      = 1000
	DefaultMaxDocs             = 10000
	DefaultMaxDocBytes         = 64 << 20
	DefaultMaxPendingBytes     = 4 << 20
	DefaultMaxAwarenessBytes   = 64 << 10
	DefaultRateMessages        = 2000
	DefaultRateBurstMessages   = 20000
	DefaultRateBytes           = 4 << 20
	DefaultRateBurstBytes      = 32 << 20
	DefaultHibernateAfter      = 30 * time.Second
	// MaxNameLen is the longest document name the server accepts, in
	// bytes.
	MaxNameLen = 255
)

// Hub maps document names to sessions. It loads a document on first use
// (concurrent first uses share one load), unloads it a grace period after
// its last peer left, and runs REST reads and writes inside the session
// so that they are ordered with the peers' updates and go through the same
// persist-then-broadcast path. A Hub holds no state that another node
// could not rebuild from the store: it assumes nothing about being the
// only server of a document.
type Hub struct {
	cfg      Config
	log      *zerolog.Logger
	metrics  Metrics
	counters *counters

	mu       gosync.Mutex
	sessions map[string]*Session
	closed   bool

	wg     gosync.WaitGroup // session goroutines
	peerWG gosync.WaitGroup // Serve calls, and the sweeper

	// The connected peers, for the sweeper, which runs while there are
	// any.
	peersMu   gosync.Mutex
	peers     map[*Peer]struct{}
	sweepStop chan struct{}

	writers *writers
}

// NewHub returns a hub serving the documents of cfg.Store.
func NewHub(cfg Config) *Hub {
	if cfg.Store == nil {
		panic("sync: Config.Store is nil")
	}
	if cfg.Log == nil {
		nop := zerolog.Nop()
		cfg.Log = &nop
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&cfg.Grace, DefaultGrace)
	def(&cfg.OutboxMessages, DefaultOutboxMessages)
	def(&cfg.OutboxBytes, DefaultOutboxBytes)
	def(&cfg.InboxSize, DefaultInboxSize)
	def(&cfg.MaxBatch, DefaultMaxBatch)
	defDur(&cfg.PingInterval, DefaultPingInterval)
	defDur(&cfg.KeepaliveInterval, DefaultKeepaliveInterval)
	defDur(&cfg.AwarenessTimeout, DefaultAwarenessTimeout)
	def(&cfg.MaxAwarenessClients, DefaultMaxAwarenessClients)
	def(&cfg.MaxPeersPerDoc, DefaultMaxPeersPerDoc)
	def(&cfg.MaxDocs, DefaultMaxDocs)
	def(&cfg.MaxAwarenessBytes, DefaultMaxAwarenessBytes)
	def(&cfg.RateBurstMessages, DefaultRateBurstMessages)
	def(&cfg.RateBurstBytes, DefaultRateBurstBytes)
	if cfg.MaxDocBytes <= 0 {
		cfg.MaxDocBytes = DefaultMaxDocBytes
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if cfg.RateMessages <= 0 {
		cfg.RateMessages = DefaultRateMessages
	}
	if cfg.RateBytes <= 0 {
		cfg.RateBytes = DefaultRateBytes
	}
	if cfg.HibernateAfter == 0 {
		cfg.HibernateAfter = DefaultHibernateAfter
	}
	c := &counters{next: cfg.Metrics}
	return &Hub{cfg: cfg, log: cfg.Log, metrics: c, counters: c, sessions: map[string]*Session{}, writers: newWriters()}
}

// ValidName checks a document name: 1 to MaxNameLen bytes of UTF-8 with
// no control characters, so that names are safe in logs, URLs and file
// listings.
func ValidName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes (want 1 to %d)", ErrInvalidName, len(name), MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character %U", ErrInvalidName, r)
		}
	}
	return nil
}

// acquire returns the session of name, starting it if needed, with a
// reference held; release it with release.
func (h *Hub) acquire(name string) (*Session, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := h.sessions[name]
	if s == nil {
		if len(h.sessions) >= h.cfg.MaxDocs && !h.evictLocked() {
			return nil, ErrBusy
		}
		s = newSession(h, name)
		h.sessions[name] = s
		h.wg.Add(1)
		go s.run()
	}
	s.refs++
	return s, nil
}

// evictLocked asks the least recently used session that nobody holds to
// unload, and reports whether there was one. The caller goes ahead
// without waiting for it: the number of loaded documents overshoots
// MaxDocs by at most the evictions under way.
func (h *Hub) evictLocked() bool {
	var victim *Session
	for _, s := range h.sessions {
		if s.refs > 0 || s.gone || s.evicting {
			continue
		}
		if victim == nil || s.lastActive.Load() < victim.lastActive.Load() {
			victim = s
		}
	}
	if victim == nil {
		return false
	}
	victim.evicting = true
	select {
	case victim.evict <- struct{}{}:
	default:
	}
	return true
}

func (h *Hub) addPeer(p *Peer) {
	h.peersMu.Lock()
	defer h.peersMu.Unlock()
	if h.peers == nil {
		h.peers = map[*Peer]struct{}{}
	}
	h.peers[p] = struct{}{}
	if len(h.peers) == 1 {
		h.sweepStop = make(chan struct{})
		h.peerWG.Add(1)
		go h.sweep(h.sweepStop)
	}
}

func (h *Hub) removePeer(p *Peer) {
	h.peersMu.Lock()
	defer h.peersMu.Unlock()
	delete(h.peers, p)
	if len(h.peers) == 0 {
		close(h.sweepStop)
	}
}

// sweep visits every peer twice per ping or keepalive interval, whichever
// is shorter, to schedule pings and keepalives (Peer.tick). One goroutine
// and one timer for all peers, rather than one each: most connections
// are idle, and an idle connection should cost as little as possible.
func (h *Hub) sweep(stop chan struct{}) {
	defer h.peerWG.Done()
	t := time.NewTicker(min(h.cfg.PingInterval, h.cfg.KeepaliveInterval) / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.peersMu.Lock()
			for p := range h.peers {
				p.tick(now)
			}
			h.peersMu.Unlock()
		}
	}
}

func (h *Hub) release(s *Session) {
	h.mu.Lock()
	s.refs--
	h.mu.Unlock()
}

// sessionErr is the error to report when s ended before handling an
// event: its own failure if it failed (a load error is final for this
// attempt), else errSessionGone, on which callers retry.
func sessionErr(s *Session) error {
	if s.err != nil {
		return s.err
	}
	return errSessionGone
}

// Access is what one peer may do, decided by the caller (the web layer's
// authentication); the zero Access is full access that never expires.
type Access struct {
	// ReadOnly peers sync and share awareness, but every update they send
	// is refused (answered with a permission-denied auth message) and
	// neither applied nor broadcast.
	ReadOnly bool
	// Expires, when not zero, is when the peer's credentials lapse: the
	// peer is then closed with CloseAuthExpired.
	Expires time.Time
}

// Serve runs one peer (a connected client) on document name until it
// disconnects or is closed, and returns once the peer has ended. The
// document is loaded before the peer is answered anything. See Attach for
// a call that returns as soon as the peer is established.
func (h *Hub) Serve(ctx context.Context, name string, conn Conn, acc Access) error {
	done := make(chan struct{})
	if err := h.Attach(ctx, name, conn, acc, func() { close(done) }); err != nil {
		return err
	}
	<-done
	return nil
}

// Attach is Serve without the wait: it returns once the peer has joined
// the document (or failed to, with the error), and the peer then lives on
// its own until it disconnects or is closed; done is called after it has
// ended and everything it ran has stopped. Hub.Close waits for attached
// peers as for served ones.
//
// A conn that can park (a WSConn from Upgrade, on Linux) holds no
// goroutine while its peer is idle: Attach is how a server with many idle
// connections keeps them cheap.
func (h *Hub) Attach(ctx context.Context, name string, conn Conn, acc Access, done func()) error {
	if err := ValidName(name); err != nil {
		_ = conn.Close(CloseUnsupported, "invalid document name")
		return err
	}
	h.peerWG.Add(1)
	if !acc.Expires.IsZero() && !time.Now().Before(acc.Expires) {
		h.peerWG.Done()
		_ = conn.Close(CloseAuthExpired, "token expired")
		return ErrExpired
	}
	p := newPeer(h, conn)
	p.readOnly = acc.ReadOnly
	s, err := h.join(ctx, name, p)
	if err != nil {
		h.peerWG.Done()
		return err
	}
	h.counters.peers.Add(1)
	h.log.Debug().Str("doc", name).Uint64("peer", p.id).Str("remote", conn.RemoteAddr()).Msg("peer joined")
	p.ctx, p.sess, p.done = ctx, s, done
	p.readFn = p.read
	p.msgRate = rate.NewLimiter(rate.Limit(h.cfg.RateMessages), h.cfg.RateBurstMessages)
	p.byteRate = rate.NewLimiter(rate.Limit(h.cfg.RateBytes), h.cfg.RateBurstBytes)
	if !acc.Expires.IsZero() {
		p.expiry = time.AfterFunc(time.Until(acc.Expires), func() {
			h.log.Info().Str("doc", name).Uint64("peer", p.id).Msg("token expired; closing the peer")
			p.close(CloseAuthExpired, "token expired", false)
		})
	}
	h.addPeer(p)
	// A client may connect and then say nothing for a long time: wait for
	// its first frame parked, like for any later one.
	if !p.park() {
		go p.read()
	}
	return nil
}

// join loads the document and adds p to its session, retrying on a fresh
// session when the one it found ended first. On failure the conn is
// closed with the code that says why.
func (h *Hub) join(ctx context.Context, name string, p *Peer) (*Session, error) {
	conn := p.conn
	for {
		s, err := h.acquire(name)
		if errors.Is(err, ErrBusy) {
			h.metrics.Error(ErrKindBusy)
			h.log.Warn().Str("doc", name).Str("remote", conn.RemoteAddr()).Msg("too many loaded documents; peer refused")
			_ = conn.Close(CloseTryAgainLater, "server busy: too many open documents")
			return nil, err
		}
		if err != nil {
			_ = conn.Close(CloseGoingAway, "server shutting down")
			return nil, err
		}
		joined := make(chan error, 1)
		err = s.post(ctx, event{kind: evJoin, peer: p, joined: joined})
		if err == nil {
			select {
			case err = <-joined:
			case <-s.done:
				select {
				case err = <-joined:
				default:
					err = sessionErr(s)
				}
			}
		}
		if err == nil {
			return s, nil
		}
		h.release(s)
		if errors.Is(err, errSessionGone) {
			continue
		}
		if ctx.Err() != nil {
			_ = conn.Close(CloseGoingAway, "")
			return nil, err
		}
		if errors.Is(err, ErrBusy) {
			_ = conn.Close(CloseTryAgainLater, "document full: too many peers")
			return nil, err
		}
		_ = conn.Close(CloseInternal, "document unavailable")
		return nil, err
	}
}

// finish is the end of a peer, run by its last reader: the session is
// told, the writer has closed the connection, and the hub forgets it.
func (p *Peer) finish(stopReading bool) {
	h, s := p.hub, p.sess
	if rs, ok := p.conn.(readStopper); ok && stopReading {
		rs.StopReading()
	}
	if p.expiry != nil {
		p.expiry.Stop()
	}
	_ = s.post(context.Background(), event{kind: evLeave, peer: p})
	h.release(s)
	<-p.writerDone
	h.removePeer(p)
	h.counters.peers.Add(-1)
	_, code, reason := p.closed()
	h.log.Debug().Str("doc", s.name).Uint64("peer", p.id).Int("code", code).Str("reason", reason).Msg("peer left")
	if p.done != nil {
		p.done()
	}
	h.peerWG.Done()
}

// readStopper is implemented by a Conn that wants to know when its reader
// stops calling ReadFrame before it failed (WSConn.StopReading).
type readStopper interface{ StopReading() }

// parker is implemented by a Conn whose reader can let go of its
// goroutine while nothing is buffered (WSConn).
type parker interface {
	// Park arranges for wake to be called once, on a new goroutine, when
	// the connection has input, ends, or is closed. false: it cannot park
	// now, and the caller reads instead.
	Park(wake func()) bool
	// Expired reports that nothing arrived for the conn's keepalive
	// timeout; a parked conn has no read deadline running to notice. The
	// peer is then closed without waiting for its answer.
	Expired(now time.Time) bool
}

// read is the peer's reader: it decodes frames and posts them to the
// session, and once nothing more is buffered parks the conn (if it can),
// to be run again on input, or ends the peer. It is called when there is
// input, or may soon be: it starts by reading.
func (p *Peer) read() {
	p.parked.Store(false)
	for {
		more, failed := p.readFrame()
		if !more {
			p.finish(!failed)
			return
		}
		if p.park() {
			return
		}
	}
}

// park parks the peer's conn, if it can, with read to run on input. After
// true the caller must not touch the reading side: another reader may
// already run.
func (p *Peer) park() bool {
	pk, ok := p.conn.(parker)
	if !ok {
		return false
	}
	p.parked.Store(true)
	if pk.Park(p.readFn) {
		return true
	}
	p.parked.Store(false)
	return false
}

// readFrame reads, decodes and posts one frame. more is false when the
// peer is done; failed says whether the conn's read failed (rather than
// the peer being closed for what it sent).
func (p *Peer) readFrame() (more, failed bool) {
	h, s := p.hub, p.sess
	frame, err := p.conn.ReadFrame()
	if err != nil {
		var ce *CloseError
		if errors.As(err, &ce) && !ce.Remote {
			kind := ErrKindFrame
			if ce.Code == CloseTooBig {
				kind = ErrKindTooBig
			}
			h.metrics.Error(kind)
			h.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).
				Int("code", ce.Code).Msg(ce.Reason + "; closing the peer")
			p.close(ce.Code, ce.Reason, false)
			return false, true
		}
		h.log.Debug().Str("doc", s.name).Uint64("peer", p.id).Err(err).Msg("read ended")
		p.close(CloseNormal, "", false)
		return false, true
	}
	now := time.Now()
	p.lastRead.Store(now.UnixNano())
	msgs, err := DecodeFrame(frame)
	if err != nil {
		h.metrics.Error(ErrKindFrame)
		h.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).
			Err(err).Msg("malformed frame; closing the peer")
		p.close(CloseInvalidPayload, "malformed frame", false)
		return false, false
	}
	for i, m := range msgs {
		n := 0
		if i == 0 {
			n = len(frame)
		}
		h.metrics.MessageIn(m.Type, n)
	}
	if !p.msgRate.AllowN(now, len(msgs)) || !p.byteRate.AllowN(now, len(frame)) {
		h.metrics.Error(ErrKindPolicy)
		h.log.Warn().Str("doc", s.name).Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).
			Msg("rate limit exceeded; closing the peer")
		p.close(ClosePolicy, "rate limit exceeded", false)
		return false, false
	}
	if echoes(msgs, &s.aw.clocks) {
		return true, false
	}
	if err := s.post(p.ctx, event{kind: evFrame, peer: p, msgs: msgs}); err != nil {
		p.close(CloseGoingAway, "document closed", true)
		return false, false
	}
	return true, false
}

// echoes reports whether a frame holds only awareness updates the
// session would ignore (see awarenessClocks). Those are dropped on the
// reader; anything else, malformed input included, goes to the session.
func echoes(msgs []Message, clocks *awarenessClocks) bool {
	for _, m := range msgs {
		if m.Type != MsgAwareness {
			return false
		}
		entries, err := decodeAwareness(m.Payload, false)
		if err != nil || !clocks.stale(entries) {
			return false
		}
	}
	return true
}

// do runs r in the session of name, retrying on a fresh session when the
// one it found ended first, and waits for it to be durable.
func (h *Hub) do(ctx context.Context, name string, r *request) error {
	if err := ValidName(name); err != nil {
		return err
	}
	for {
		s, err := h.acquire(name)
		if err != nil {
			return err
		}
		err = h.wait(ctx, s, r)
		h.release(s)
		if !errors.Is(err, errSessionGone) {
			return err
		}
		r.done = nil
	}
}

func (h *Hub) wait(ctx context.Context, s *Session, r *request) error {
	r.done = make(chan struct{})
	if err := s.post(ctx, event{kind: evRequest, req: r}); err != nil {
		if errors.Is(err, errSessionGone) {
			return sessionErr(s)
		}
		return err
	}
	select {
	case <-r.done:
		return r.err
	case <-s.done:
		select {
		case <-r.done:
			return r.err
		default:
			return sessionErr(s)
		}
	case <-ctx.Done():
		r.cancelled.Store(true)
		return ctx.Err()
	}
}

// Read runs fn on the document inside its session, loading the document
// if needed, and returns fn's error. fn must not keep doc or call the hub.
// It returns once everything fn may have seen is durable.
func (h *Hub) Read(ctx context.Context, name string, fn func(doc *crdt.Doc) error) error {
	return h.do(ctx, name, &request{kind: reqRead, fn: fn})
}

// State returns what a client with the encoded state vector sv lacks of
// the document, as a v1 update (the whole state for an empty or nil sv),
// as sync step 2 would. Unlike Read it needs no crdt replica: a document
// held cold answers from its encoding. The caller must not modify the
// result.
func (h *Hub) State(ctx context.Context, name string, sv []byte) ([]byte, error) {
	r := &request{kind: reqState, update: sv}
	if err := h.do(ctx, name, r); err != nil {
		return nil, err
	}
	return r.out, nil
}

// Apply applies a v1 update to the document as if a peer had sent it:
// persisted, then broadcast to the peers. An update that does not decode
// returns an error wrapping crdt.ErrMalformed and changes nothing.
func (h *Hub) Apply(ctx context.Context, name string, update []byte) error {
	if len(update) == 0 {
		return fmt.Errorf("sync: apply: %w: empty update", crdt.ErrMalformed)
	}
	u := append([]byte(nil), update...)
	return h.do(ctx, name, &request{kind: reqApply, update: u})
}

// Edit runs fn in one transaction on the document; what it changes is
// persisted and broadcast like a peer's update. Changes fn made before
// returning an error stand (a Yjs transaction cannot be rolled back).
func (h *Hub) Edit(ctx context.Context, name string, fn func(doc *crdt.Doc) error) error {
	return h.do(ctx, name, &request{kind: reqEdit, fn: fn})
}

// Compact folds the document's log into a new snapshot now.
func (h *Hub) Compact(ctx context.Context, name string) error {
	if _, err := h.Info(ctx, name); err != nil {
		return err
	}
	return h.do(ctx, name, &request{kind: reqCompact})
}

// Delete removes a document from storage and closes its peers with
// CloseDocumentDeleted. It returns ErrNotFound for a document that is
// neither stored nor loaded.
func (h *Hub) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return ErrClosed
		}
		s := h.sessions[name]
		if s == nil {
			h.mu.Unlock()
			if _, err := h.cfg.Store.Stat(ctx, name); err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("%w: %q", ErrNotFound, name)
				}
				return err
			}
			h.mu.Lock()
			if h.closed {
				h.mu.Unlock()
				return ErrClosed
			}
			if h.sessions[name] != nil {
				h.mu.Unlock()
				continue // someone loaded it meanwhile: delete through it
			}
			// A session that only deletes, so that a concurrent join
			// waits for the delete instead of loading what goes away.
			s = newSession(h, name)
			s.deleteOnStart = true
			r := &request{kind: reqDelete, done: make(chan struct{})}
			_ = s.inbox.put(context.Background(), nil, event{kind: evRequest, req: r}) // empty: no wait
			s.refs++
			h.sessions[name] = s
			h.wg.Add(1)
			go s.run()
			h.mu.Unlock()
			<-r.done // not cancellable: the delete is under way
			h.release(s)
			return r.err
		}
		s.refs++
		h.mu.Unlock()
		r := &request{kind: reqDelete}
		err := h.wait(ctx, s, r)
		h.release(s)
		if errors.Is(err, errSessionGone) {
			continue
		}
		return err
	}
}

// DocInfo describes a document for the REST API.
type DocInfo struct {
	Name string `json:"name"`
	// Bytes is the stored size (snapshot plus log).
	Bytes         int64     `json:"size"`
	SnapshotBytes int64     `json:"snapshotBytes"`
	LogBytes      int64     `json:"logBytes"`
	LogCount      int       `json:"logCount"`
	Created       time.Time `json:"created,omitzero"`
	Updated       time.Time `json:"updated,omitzero"`
	// Peers is the number of connected peers; Loaded whether the document
	// is in memory on this node.
	Peers  int  `json:"peers"`
	Loaded bool `json:"loaded"`
}

func infoFromMeta(m storage.Meta) DocInfo {
	return DocInfo{Name: m.Name, Bytes: m.Bytes, SnapshotBytes: m.SnapshotBytes, LogBytes: m.LogBytes,
		LogCount: m.LogCount, Created: m.Created, Updated: m.Updated}
}

// loaded returns the peer count of name's session, if it is loaded.
func (h *Hub) loaded(name string) (peers int, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[name]
	if s == nil || s.deleteOnStart {
		return 0, false
	}
	return int(s.peerCount.Load()), true
}

// Info describes one document: stored, or loaded (a document with peers
// but no content yet is not stored).
func (h *Hub) Info(ctx context.Context, name string) (DocInfo, error) {
	if err := ValidName(name); err != nil {
		return DocInfo{}, err
	}
	m, err := h.cfg.Store.Stat(ctx, name)
	peers, loaded := h.loaded(name)
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrNotFound) && loaded:
		m = storage.Meta{Name: name}
	case errors.Is(err, storage.ErrNotFound):
		return DocInfo{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	default:
		return DocInfo{}, err
	}
	info := infoFromMeta(m)
	info.Peers, info.Loaded = peers, loaded
	return info, nil
}

// List describes every stored or loaded document, ordered by name.
func (h *Hub) List(ctx context.Context) ([]DocInfo, error) {
	metas, err := h.cfg.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]DocInfo, 0, len(metas))
	seen := make(map[string]bool, len(metas))
	h.mu.Lock()
	for _, m := range metas {
		info := infoFromMeta(m)
		if s := h.sessions[m.Name]; s != nil && !s.deleteOnStart {
			info.Loaded, info.Peers = true, int(s.peerCount.Load())
		}
		seen[m.Name] = true
		out = append(out, info)
	}
	for name, s := range h.sessions {
		if !seen[name] && !s.deleteOnStart {
			out = append(out, DocInfo{Name: name, Loaded: true, Peers: int(s.peerCount.Load())})
		}
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b DocInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	c := h.counters
	return Stats{
		Docs:        int(c.docs.Load()),
		Peers:       int(c.peers.Load()),
		MessagesIn:  c.msgsIn.Load(),
		MessagesOut: c.msgsOut.Load(),
		BytesIn:     c.bytesIn.Load(),
		BytesOut:    c.bytesOut.Load(),
		Updates:     uint64(c.updates.Load()),
		Appends:     uint64(c.appends.Load()),
		Compactions: uint64(c.compactions.Load()),
		Hibernating: int(c.hibernating.Load()),
	}
}

// Close shuts the hub down: new peers and requests are refused, every
// session makes what it has received durable, closes its peers with 1001
// after flushing their outboxes, finishes a compaction in flight, and
// ends. Close returns when all of that is done or ctx ends; the caller
// closes the store after it. Calling Close again waits again.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		for _, s := range h.sessions {
			close(s.stop)
		}
	}
	h.mu.Unlock()
	defer h.writers.close()
	sessions, peers := make(chan struct{}), make(chan struct{})
	go func() { h.wg.Wait(); close(sessions) }()
	go func() { h.peerWG.Wait(); close(peers) }()
	select {
	case <-sessions:
	case <-ctx.Done():
		return fmt.Errorf("sync: close: documents not all durable: %w", ctx.Err())
	}
	select {
	case <-peers:
		return nil
	case <-ctx.Done():
	}
	// Every document is durable; what is left is peers still being
	// flushed to, such as a client that stopped reading, whose writer
	// waits out its write timeout. Cut them off.
	h.peersMu.Lock()
	for p := range h.peers {
		p.abort(CloseGoingAway, "server shutting down")
	}
	h.peersMu.Unlock()
	t := time.NewTimer(2 * closeWait)
	defer t.Stop()
	select {
	case <-peers:
		return nil
	case <-t.C:
		return fmt.Errorf("sync: close: peers not all closed: %w", ctx.Err())
	}
}

// Ready reports whether the hub can serve: it is not closed and its store
// answers. For readiness probes.
func (h *Hub) Ready(ctx context.Context) error {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if _, err := h.cfg.Store.Stat(ctx, "quire-readiness-probe"); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("sync: store: %w", err)
	}
	return nil
}
