package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/quirehq/quire/crdt"
	ysync "github.com/quirehq/quire/sync"
)

// clock is the run's time base: markers carry microseconds since t0 on
// the monotonic clock, so sender and receiver (same process) agree.
type clock struct{ t0 time.Time }

func (c clock) micros() int64 { return time.Since(c.t0).Microseconds() }

// emptyUpdate is the v1 update of an empty document.
var emptyUpdate = []byte{0, 0}

// peer is one simulated client on one connection. It is a light receiver
// (doc == nil: reads framing and markers only), an editor (doc holds its
// own replica, used to produce valid inserts; with applyRemote it is a
// full replica), or a checker (a full replica that never edits).
type peer struct {
	clk  clock
	id   int // editor number (marker id), -1 if it never edits
	c    *conn
	name string

	mu          stdsync.Mutex // guards doc, text, lastUpdate
	doc         *crdt.Doc
	text        *crdt.Text
	applyRemote bool
	lastUpdate  []byte

	// awareness
	awID    uint64
	awClock uint64
	echo    bool
	known   map[uint64]uint64

	// receiving
	markers bool                  // scan updates for markers
	from    func(editor int) bool // which editors this peer expects (nil: all but itself)
	hist    hist
	// seen holds, by editor - seenBase, the markers received: a slice,
	// as a map lookup per marker was a fifth of the generator's CPU.
	seen     []bitset
	seenBase int
	got      atomic.Int64 // distinct markers of other editors received
	updates  atomic.Int64
	awIn     atomic.Int64
	awEchoed atomic.Int64
	acks     atomic.Int64 // Hocuspocus sync-status messages

	synced    chan struct{}
	syncedAt  time.Time
	step2Len  int
	onUpdate  func(p *peer, payload []byte) // called from the read loop
	onStep2   func(p *peer, payload []byte)
	applyErrs atomic.Int64

	sentEdits int // edits sent (editors), set when the edit loop ends

	closing atomic.Bool
	err     error
	done    chan struct{}
}

// maxEditors bounds the editors of a room (--editors), so that a receiver's
// seen slice stays small whatever a marker-like text in the document says.
const maxEditors = 1 << 16

func newPeer(clk clock, id int) *peer {
	return &peer{clk: clk, id: id, synced: make(chan struct{}), done: make(chan struct{})}
}

// withDoc gives the peer a replica; initial (if not nil) is applied first.
func (p *peer) withDoc(initial []byte) error {
	p.doc = crdt.NewDoc(crdt.Options{})
	p.text = p.doc.Text("t")
	if initial != nil {
		if err := p.doc.ApplyUpdate(initial); err != nil {
			return err
		}
	}
	p.doc.OnUpdate(func(u []byte) { p.lastUpdate = u })
	return nil
}

func (p *peer) awarenessID() uint64 {
	if p.doc != nil {
		return p.doc.ClientID()
	}
	if p.awID == 0 {
		p.awID = uint64(rand.Uint32()) | 1
	}
	return p.awID
}

func (p *peer) awarenessMsg(state string) []byte {
	p.awClock++
	return ysync.EncodeAwareness(ysync.EncodeAwarenessUpdate([]ysync.AwarenessEntry{{ClientID: p.awarenessID(), Clock: p.awClock, State: []byte(state)}}))
}

// connect dials, starts the read loop and sends the provider's hello
// (auth for Hocuspocus, step 1, awareness). It does not wait for the sync.
func (p *peer) connect(ctx context.Context, t *target, doc string, awState string) error {
	c, err := dial(ctx, t, doc)
	if err != nil {
		return err
	}
	p.c = c
	go p.readLoop()
	sv := []byte{0}
	if p.doc != nil {
		p.mu.Lock()
		sv = p.doc.EncodeStateVector()
		p.mu.Unlock()
	}
	var aw []byte
	if awState != "" {
		p.awClock++
		aw = ysync.EncodeAwarenessUpdate([]ysync.AwarenessEntry{{ClientID: p.awarenessID(), Clock: p.awClock, State: []byte(awState)}})
	}
	return c.hello(sv, aw)
}

func (p *peer) waitSynced(ctx context.Context) error {
	select {
	case <-p.synced:
		return nil
	case <-p.done:
		if p.err != nil {
			return p.err
		}
		return errors.New("connection closed before sync")
	case <-ctx.Done():
		return fmt.Errorf("not synced: %w", ctx.Err())
	}
}

func (p *peer) close() {
	if p.c != nil && !p.closing.Swap(true) {
		p.c.close()
	}
}

func (p *peer) readLoop() {
	defer close(p.done)
	for {
		frame, err := p.c.readFrame()
		if err != nil {
			if !p.closing.Load() {
				p.err = err
			}
			return
		}
		if err := p.c.parseFrame(frame, p.handle); err != nil {
			p.err = err
			p.closing.Store(true)
			_ = p.c.ws.Close()
			return
		}
	}
}

func (p *peer) handle(m msg) error {
	switch m.typ {
	case uint64(ysync.MsgSync):
		switch ysync.SyncType(m.sub) {
		case ysync.SyncStep1:
			upd := emptyUpdate
			if p.doc != nil {
				p.mu.Lock()
				u, err := p.doc.EncodeStateAsUpdate(m.payload)
				p.mu.Unlock()
				if err != nil {
					return err
				}
				upd = u
			}
			return p.c.send(ysync.EncodeSyncStep2(upd))
		case ysync.SyncStep2:
			if p.doc != nil {
				p.mu.Lock()
				err := p.doc.ApplyUpdate(m.payload)
				p.mu.Unlock()
				if err != nil {
					p.applyErrs.Add(1)
				}
			}
			if p.onStep2 != nil {
				p.onStep2(p, m.payload)
			}
			select {
			case <-p.synced:
			default:
				p.syncedAt = time.Now()
				p.step2Len = len(m.payload)
				close(p.synced)
			}
		case ysync.SyncUpdate:
			p.updates.Add(1)
			if p.markers {
				now := p.clk.micros()
				scanMarkers(m.payload, func(editor, seq int, micros int64) {
					if editor == p.id || (p.from != nil && !p.from(editor)) {
						return
					}
					i := editor - p.seenBase
					if i < 0 || i >= maxEditors {
						return // not a marker this run wrote
					}
					for len(p.seen) <= i {
						p.seen = append(p.seen, nil)
					}
					if p.seen[i].testAndSet(seq) {
						return
					}
					p.got.Add(1)
					p.hist.add(time.Duration(now-micros) * time.Microsecond)
				})
			}
			if p.doc != nil && p.applyRemote {
				p.mu.Lock()
				err := p.doc.ApplyUpdate(m.payload)
				p.mu.Unlock()
				if err != nil {
					p.applyErrs.Add(1)
				}
			}
			if p.onUpdate != nil {
				p.onUpdate(p, m.payload)
			}
		}
	case uint64(ysync.MsgAwareness):
		p.awIn.Add(1)
		if p.echo {
			return p.echoAwareness(m.payload)
		}
	case hpSyncStatus:
		p.acks.Add(1)
	}
	return nil
}

// echoAwareness does what the y-websocket provider does with a remote
// awareness update: apply it, and re-broadcast the states of every client
// it changed (same clocks), because its awareness 'update' handler sends
// whatever changed regardless of origin.
func (p *peer) echoAwareness(upd []byte) error {
	entries, err := ysync.DecodeAwarenessUpdate(upd)
	if err != nil {
		return err
	}
	if p.known == nil {
		p.known = map[uint64]uint64{}
	}
	own := p.awarenessID()
	out := entries[:0]
	for _, e := range entries {
		if e.ClientID == own {
			continue
		}
		k, ok := p.known[e.ClientID]
		if ok && e.Clock <= k && !(e.Clock == k && e.IsNull()) {
			continue
		}
		p.known[e.ClientID] = e.Clock
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil
	}
	p.awEchoed.Add(1)
	return p.c.send(ysync.EncodeAwareness(ysync.EncodeAwarenessUpdate(out)))
}

// edit inserts a marker at a random position of the peer's replica and
// sends the update, then its cursor as an awareness update.
func (p *peer) edit(seq int, buf []byte) ([]byte, error) {
	p.mu.Lock()
	n := p.text.Len()
	pos := rand.IntN(n + 1)
	buf = appendMarker(buf[:0], p.id, seq, p.clk.micros())
	p.lastUpdate = nil
	if err := p.text.Insert(pos, string(buf), nil); err != nil {
		p.mu.Unlock()
		return buf, err
	}
	upd := p.lastUpdate
	p.mu.Unlock()
	if err := p.c.send(ysync.EncodeSyncUpdate(upd)); err != nil {
		return buf, err
	}
	cur := strconv.Itoa(pos + len(buf))
	return buf, p.c.send(p.awarenessMsg(`{"user":{"name":"e` + strconv.Itoa(p.id) + `"},"cursor":{"anchor":` + cur + `,"head":` + cur + `}}`))
}

func (p *peer) textString() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.text.String()
}

// dialAll connects n peers with bounded parallelism and waits for their
// sync; mk builds peer i (connect is called on it).
func dialAll(ctx context.Context, n, par int, connect func(i int) (*peer, error)) ([]*peer, error) {
	peers := make([]*peer, n)
	sem := make(chan struct{}, par)
	var wg stdsync.WaitGroup
	var mu stdsync.Mutex
	var first error
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			p, err := connect(i)
			if err == nil {
				err = p.waitSynced(ctx)
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("peer %d: %w", i, err)
				}
				mu.Unlock()
			}
			peers[i] = p
		}(i)
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return peers, first
}

func closeAll(peers []*peer) {
	var wg stdsync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, p := range peers {
		if p == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() { defer func() { <-sem; wg.Done() }(); p.close() }()
	}
	wg.Wait()
}

// freshText joins doc as a new empty replica, syncs, and returns its text:
// what any newcomer would see.
func freshText(ctx context.Context, clk clock, t *target, doc string) (string, error) {
	p := newPeer(clk, -1)
	if err := p.withDoc(nil); err != nil {
		return "", err
	}
	if err := p.connect(ctx, t, doc, ""); err != nil {
		return "", err
	}
	defer p.close()
	if err := p.waitSynced(ctx); err != nil {
		return "", err
	}
	if p.applyErrs.Load() > 0 {
		return "", errors.New("step 2 did not apply")
	}
	return p.textString(), nil
}

// sendAndAck sends update from an already synced peer and waits until the
// server has it: the echo of the update (quire, @y/websocket-server and
// Hocuspocus all send every update to its sender too).
func (p *peer) sendAndAck(ctx context.Context, update []byte) error {
	u0 := p.updates.Load()
	if err := p.c.send(ysync.EncodeSyncUpdate(update)); err != nil {
		return err
	}
	for ctx.Err() == nil {
		if p.updates.Load() > u0 {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("connection closed: %v", p.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("update not acknowledged: %w", ctx.Err())
}
