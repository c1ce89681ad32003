package sync

import (
	"context"
	gosync "sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Peer is one connection to one document: a reader that decodes frames
// into the session's inbox, and a bounded outbox drained by a writer
// goroutine that runs only while there is something to write. The reader,
// too, runs only while there is input when the conn can park (WSConn on
// Linux): an idle connection then costs no goroutine, no timer and no
// buffer beyond its read buffer. The session never blocks on a peer: it
// only appends to the outbox, and a peer whose outbox is full is closed
// (CloseTryAgainLater) rather than waited for. Pings and keepalives are
// scheduled by the hub's sweeper (Hub.sweep).
type Peer struct {
	id       uint64
	conn     Conn
	hub      *Hub
	readOnly bool // set before the peer joins; see Access

	// Reading side, set when the peer has joined (Hub.Attach). One reader
	// runs at a time: the conn's Park hands the turn to the next.
	ctx      context.Context
	sess     *Session
	done     func()
	readFn   func() // read as a func value, made once for Park
	expiry   *time.Timer
	msgRate  *rate.Limiter
	byteRate *rate.Limiter
	lastRead atomic.Int64 // unix nanoseconds of the last frame read
	parked   atomic.Bool  // no reader runs; the conn wakes one on input

	// Outbox. The session pushes encoded messages; the writer pops them.
	mu           gosync.Mutex
	queue        [][]byte
	queuedBytes  int
	closing      bool // no more pushes; the writer finishes and closes
	flush        bool // write what is queued before closing
	closeCode    int
	closeReason  string
	writing      bool // a writer goroutine runs
	finished     bool // the writer closed the connection; writerDone is closed
	pingDue      bool // the sweeper asks for a ping
	keepaliveDue bool // the sweeper asks for a keepalive message
	lastPing     time.Time

	writerDone chan struct{}
	lastWrite  atomic.Int64 // unix nanoseconds of the last frame written
}

var peerIDs atomic.Uint64

func newPeer(h *Hub, conn Conn) *Peer {
	now := time.Now()
	p := &Peer{
		id:         peerIDs.Add(1),
		conn:       conn,
		hub:        h,
		lastPing:   now,
		writerDone: make(chan struct{}),
	}
	p.lastWrite.Store(now.UnixNano())
	p.lastRead.Store(now.UnixNano())
	return p
}

// ID is unique among the peers of this process, for logs.
func (p *Peer) ID() uint64 { return p.id }

// send queues encoded messages (whole frames) that count cost bytes
// against the outbox's byte limit. It reports false if the outbox
// overflowed; the caller then closes the peer. The outbox holds at most
// OutboxMessages messages, and takes messages while it holds fewer than
// OutboxBytes bytes, whatever their size.
func (p *Peer) send(msgs [][]byte, cost int) bool {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return true // already on its way out; not an overflow
	}
	cfg := &p.hub.cfg
	if len(p.queue)+len(msgs) > cfg.OutboxMessages || p.queuedBytes >= cfg.OutboxBytes {
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, msgs...)
	p.queuedBytes += cost
	// One kick for the lot, so that the writer finds the whole batch and
	// writes it at once.
	p.kickLocked()
	p.mu.Unlock()
	return true
}

// close asks the writer to close the connection with code and reason,
// after writing what is queued if flush is set. The first call wins.
func (p *Peer) close(code int, reason string, flush bool) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	p.closing, p.flush, p.closeCode, p.closeReason = true, flush, code, reason
	if !flush {
		p.queue, p.queuedBytes = nil, 0
	}
	busy := p.writing
	p.kickLocked()
	p.mu.Unlock()
	if !flush && busy {
		// The writer may be stuck in a write to a peer that stopped
		// reading; closing the connection unblocks it. Not on the
		// caller's goroutine, which may be the session: sending the close
		// frame can itself wait for the peer. A writer started by the
		// kick above closes the connection itself, first thing: when
		// thousands of peers leave at once, one goroutine each is enough.
		go p.conn.Close(code, reason)
	}
}

// abort closes the peer now, dropping what is queued, even if a flushing
// close is under way (Hub.Close when its time is up).
func (p *Peer) abort(code int, reason string) {
	p.mu.Lock()
	p.dropLocked(code, reason)
	p.kickLocked()
	p.mu.Unlock()
	go p.conn.Close(code, reason)
}

// dropLocked marks the peer closing without a flush and drops what is
// queued; a close already asked for keeps its code. p.mu is held.
func (p *Peer) dropLocked(code int, reason string) {
	if !p.closing {
		p.closing, p.closeCode, p.closeReason = true, code, reason
	}
	p.flush = false
	p.queue, p.queuedBytes = nil, 0
}

// closed reports whether close was called, and with what.
func (p *Peer) closed() (bool, int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing, p.closeCode, p.closeReason
}

// kickLocked starts a writer if there is something to do and none runs.
// p.mu is held.
func (p *Peer) kickLocked() {
	if p.writing || p.finished {
		return
	}
	if len(p.queue) == 0 && !p.closing && !p.pingDue && !p.keepaliveDue {
		return
	}
	p.writing = true
	p.hub.writers.start(p)
}

// tick is the sweeper's visit: it asks for a ping every PingInterval and,
// when nothing was written for KeepaliveInterval, for an empty awareness
// update: y-websocket clients drop a connection on which no message
// arrived for 30 s, and WebSocket pings are invisible to them.
//
// A peer that sent a frame within the ping interval is not pinged: it is
// alive, and a pong would wake a parked reader only to have it wait, with
// its stack, for the next frame. y-websocket clients renew their
// awareness every 15 s, so most are never pinged. A parked peer from
// which nothing arrived for the conn's keepalive timeout is closed here,
// since no read deadline runs for it.
func (p *Peer) tick(now time.Time) {
	cfg := &p.hub.cfg
	if p.parked.Load() {
		if pk, ok := p.conn.(parker); ok && pk.Expired(now) {
			p.hub.log.Debug().Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).Msg("keepalive timeout; closing the peer")
			p.close(CloseGoingAway, "keepalive timeout", false)
			return
		}
	}
	p.mu.Lock()
	if now.Sub(p.lastPing) >= cfg.PingInterval && now.Sub(time.Unix(0, p.lastRead.Load())) >= cfg.PingInterval {
		p.lastPing = now
		p.pingDue = true
	}
	if len(p.queue) == 0 && !p.closing && now.Sub(time.Unix(0, p.lastWrite.Load())) >= cfg.KeepaliveInterval {
		p.keepaliveDue = true
	}
	p.kickLocked()
	p.mu.Unlock()
}

// writer drains the outbox and returns when it is empty; when the peer is
// closing it closes the connection, last, and closes writerDone.
func (p *Peer) writer() {
	for {
		p.mu.Lock()
		batch := p.queue
		p.queue, p.queuedBytes = nil, 0
		closing, code, reason := p.closing, p.closeCode, p.closeReason
		ping, keepalive := p.pingDue, p.keepaliveDue
		p.pingDue, p.keepaliveDue = false, false
		if len(batch) == 0 && !closing && !ping && !keepalive {
			p.writing = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()

		if ping && !closing {
			if err := p.conn.Ping(); err != nil {
				p.fail("ping", err)
				continue // closing now
			}
		}
		if keepalive && len(batch) == 0 && !closing {
			batch = append(batch, keepaliveMessage)
		}
		if len(batch) > 0 && !p.write(batch...) {
			continue // closing now
		}
		if closing {
			p.mu.Lock()
			if len(p.queue) > 0 && p.flush {
				p.mu.Unlock()
				continue // queued while we wrote
			}
			p.finished, p.writing = true, false
			p.mu.Unlock()
			_ = p.conn.Close(code, reason)
			close(p.writerDone)
			return
		}
	}
}

// write hands msgs to the conn, which coalesces them (WriteFrames).
func (p *Peer) write(msgs ...[]byte) bool {
	if err := p.conn.WriteFrames(msgs); err != nil {
		p.fail("write", err)
		return false
	}
	p.lastWrite.Store(time.Now().UnixNano())
	for _, m := range msgs {
		p.hub.metrics.MessageOut(len(m))
	}
	return true
}

// fail closes the connection after a transport error; the reader then
// fails too and reports the peer gone to the session.
//
// It runs on the writer, which closes the connection itself: close would
// start another goroutine for it, one per peer when thousands fail at
// once.
func (p *Peer) fail(op string, err error) {
	p.mu.Lock()
	p.dropLocked(CloseGoingAway, op+" failed")
	p.mu.Unlock()
	p.hub.log.Debug().Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).Err(err).Msgf("peer %s failed", op)
	_ = p.conn.Close(CloseGoingAway, op+" failed")
}
