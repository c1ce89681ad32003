package sync

import (
	gosync "sync"
	"sync/atomic"
	"time"
)

// Peer is one connection to one document: a reader goroutine that decodes
// frames into the session's inbox and a writer goroutine that drains a
// bounded outbox. The session never blocks on a peer: it only appends to
// the outbox, and a peer whose outbox is full is closed (CloseTryAgainLater)
// rather than waited for.
type Peer struct {
	id       uint64
	conn     Conn
	hub      *Hub
	readOnly bool // set before the peer joins; see Access

	// Outbox. The session pushes encoded messages; the writer pops them.
	mu          gosync.Mutex
	queue       [][]byte
	queuedBytes int
	closing     bool // no more pushes; the writer finishes and closes
	flush       bool // write what is queued before closing
	closeCode   int
	closeReason string
	wake        chan struct{} // capacity 1

	writerDone chan struct{}
	lastWrite  atomic.Int64 // unix nanoseconds of the last frame written
}

var peerIDs atomic.Uint64

func newPeer(h *Hub, conn Conn) *Peer {
	return &Peer{
		id:         peerIDs.Add(1),
		conn:       conn,
		hub:        h,
		wake:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
	}
}

// ID is unique among the peers of this process, for logs.
func (p *Peer) ID() uint64 { return p.id }

// send queues one encoded message (a whole frame). It reports false if the
// outbox overflowed; the caller then closes the peer. One message larger
// than the byte limit is still taken when the outbox is empty, so that a
// large document's step 2 can be delivered.
func (p *Peer) send(msgs ...[]byte) bool {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return true // already on its way out; not an overflow
	}
	cfg := &p.hub.cfg
	for _, msg := range msgs {
		if len(p.queue) >= cfg.OutboxMessages ||
			(len(p.queue) > 0 && p.queuedBytes+len(msg) > cfg.OutboxBytes) {
			p.mu.Unlock()
			return false
		}
		p.queue = append(p.queue, msg)
		p.queuedBytes += len(msg)
	}
	p.mu.Unlock()
	// One wake for the lot, so that the writer finds the whole batch and
	// writes it at once.
	select {
	case p.wake <- struct{}{}:
	default:
	}
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
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	if !flush {
		// The writer may be stuck in a write to a peer that stopped
		// reading; closing the connection unblocks it. Not on the
		// caller's goroutine, which may be the session: sending the close
		// frame can itself wait for the peer.
		go p.conn.Close(code, reason)
	}
}

// closed reports whether close was called, and with what.
func (p *Peer) closed() (bool, int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing, p.closeCode, p.closeReason
}

// writeLoop runs on its own goroutine until the peer is closed or a write
// fails. It pings every PingInterval and, when nothing else was written
// for KeepaliveInterval, sends an empty awareness update: y-websocket
// clients drop a connection on which no message arrived for 30 s, and
// WebSocket pings are invisible to them.
func (p *Peer) writeLoop() {
	defer close(p.writerDone)
	cfg := &p.hub.cfg
	tick := time.NewTicker(min(cfg.PingInterval, cfg.KeepaliveInterval) / 2)
	defer tick.Stop()
	lastPing := time.Now()
	p.lastWrite.Store(time.Now().UnixNano())
	var batch [][]byte
	for {
		select {
		case <-p.wake:
		case now := <-tick.C:
			if now.Sub(lastPing) >= cfg.PingInterval {
				lastPing = now
				if err := p.conn.Ping(); err != nil {
					p.fail("ping", err)
					return
				}
			}
			if now.Sub(time.Unix(0, p.lastWrite.Load())) >= cfg.KeepaliveInterval {
				p.mu.Lock()
				idle := len(p.queue) == 0 && !p.closing
				p.mu.Unlock()
				if idle && !p.write(keepaliveMessage) {
					return
				}
			}
			continue
		}
		p.mu.Lock()
		batch, p.queue = p.queue, batch[:0]
		p.queuedBytes = 0
		closing, code, reason := p.closing, p.closeCode, p.closeReason
		p.mu.Unlock()
		if len(batch) > 0 && !p.write(batch...) {
			return
		}
		clear(batch)
		if closing {
			p.mu.Lock()
			more := len(p.queue) > 0 && p.flush
			p.mu.Unlock()
			if more {
				continue // messages queued while we wrote; wake is set
			}
			_ = p.conn.Close(code, reason)
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
func (p *Peer) fail(op string, err error) {
	p.close(CloseGoingAway, op+" failed", false)
	p.hub.log.Debug().Uint64("peer", p.id).Str("remote", p.conn.RemoteAddr()).Err(err).Msgf("peer %s failed", op)
	_ = p.conn.Close(CloseGoingAway, op+" failed")
}
