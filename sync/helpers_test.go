package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

// pipeConn is an in-memory Conn. The test plays the client through its
// methods send, recv and hangUp.
type pipeConn struct {
	name    string
	toSrv   chan []byte // frames the client sent
	fromSrv chan []byte // frames the server wrote
	// closed is closed by Close (server side) or hangUp (client side).
	closed    chan struct{}
	closeOnce gosync.Once
	mu        gosync.Mutex
	code      int
	reason    string
	remote    bool
	// stall makes WriteFrames block until closed: a client that stopped
	// reading.
	stall atomic.Bool
}

func newPipe(name string, buf int) *pipeConn {
	return &pipeConn{name: name, toSrv: make(chan []byte, 64), fromSrv: make(chan []byte, buf), closed: make(chan struct{})}
}

func (c *pipeConn) ReadFrame() ([]byte, error) {
	select {
	case f := <-c.toSrv:
		return f, nil
	case <-c.closed:
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.remote {
			return nil, &CloseError{Code: c.code, Reason: c.reason, Remote: true}
		}
		return nil, io.EOF
	}
}

func (c *pipeConn) WriteFrames(fs [][]byte) error {
	for _, f := range fs {
		if err := c.writeFrame(f); err != nil {
			return err
		}
	}
	return nil
}

func (c *pipeConn) writeFrame(f []byte) error {
	if c.stall.Load() {
		<-c.closed
		return io.ErrClosedPipe
	}
	select {
	case c.fromSrv <- f:
		return nil
	case <-c.closed:
		return io.ErrClosedPipe
	}
}

func (c *pipeConn) Ping() error { return nil }

func (c *pipeConn) Close(code int, reason string) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.code, c.reason = code, reason
		c.mu.Unlock()
		close(c.closed)
	})
	return nil
}

func (c *pipeConn) RemoteAddr() string { return c.name }

// hangUp is the client closing the connection.
func (c *pipeConn) hangUp() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.code, c.remote = CloseNormal, true
		c.mu.Unlock()
		close(c.closed)
	})
}

func (c *pipeConn) send(t testing.TB, frame []byte) {
	t.Helper()
	select {
	case c.toSrv <- frame:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: send blocked", c.name)
	}
}

// recv returns the next frame the server wrote, failing the test after a
// timeout.
func (c *pipeConn) recv(t testing.TB) []byte {
	t.Helper()
	select {
	case f := <-c.fromSrv:
		return f
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no frame from the server", c.name)
		return nil
	}
}

// closeInfo waits for the server to close the connection and returns how.
func (c *pipeConn) closeInfo(t testing.TB) (int, string) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not closed", c.name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code, c.reason
}

func (c *pipeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// client is a test peer: a crdt replica behind a pipeConn that decodes
// what the server sends.
type client struct {
	t    testing.TB
	conn *pipeConn
	doc  *crdt.Doc
	// updates collects the doc's own updates to send.
	local  [][]byte
	done   chan error
	access Access
}

// dial starts Serve for a new client on doc name and waits for the
// server's step 1.
func dial(t testing.TB, h *Hub, name, label string) *client {
	t.Helper()
	return dialAccess(t, h, name, label, Access{})
}

// dialAccess is dial for a peer with the given access.
func dialAccess(t testing.TB, h *Hub, name, label string, acc Access) *client {
	t.Helper()
	c := &client{t: t, conn: newPipe(label, 1024), doc: crdt.NewDoc(crdt.Options{}), done: make(chan error, 1), access: acc}
	c.doc.OnUpdate(func(u []byte) { c.local = append(c.local, u) })
	go func() { c.done <- h.Serve(context.Background(), name, c.conn, c.access) }()
	m := c.expect(MsgSync)
	if m.Sync != SyncStep1 {
		t.Fatalf("%s: first message is sync %s, want step1", label, m.Sync)
	}
	return c
}

// next decodes the next frame; it must hold one message.
func (c *client) next() Message {
	c.t.Helper()
	f := c.conn.recv(c.t)
	msgs, err := DecodeFrame(f)
	if err != nil {
		c.t.Fatalf("%s: server sent a bad frame % x: %v", c.conn.name, f, err)
	}
	if len(msgs) != 1 {
		c.t.Fatalf("%s: server frame has %d messages, want 1", c.conn.name, len(msgs))
	}
	return msgs[0]
}

// expect skips keepalives and returns the next message of type t.
func (c *client) expect(t MessageType) Message {
	c.t.Helper()
	for {
		m := c.next()
		if m.Type == MsgAwareness && len(m.Payload) == 1 && m.Payload[0] == 0 {
			continue // keepalive
		}
		if m.Type != t {
			c.t.Fatalf("%s: got %s message, want %s", c.conn.name, m.Type, t)
		}
		return m
	}
}

// edit runs f on the client's doc and sends the resulting update.
func (c *client) edit(f func(d *crdt.Doc)) []byte {
	c.t.Helper()
	c.local = nil
	c.doc.Transact(func() { f(c.doc) })
	if len(c.local) != 1 {
		c.t.Fatalf("edit produced %d updates", len(c.local))
	}
	u := c.local[0]
	c.conn.send(c.t, EncodeSyncUpdate(u))
	return u
}

// waitText applies sync messages until the doc's text equals want.
func (c *client) waitText(want string) {
	c.t.Helper()
	c.waitFor(func(s string) bool { return s == want })
}

// waitLen applies sync messages until the doc's text has n bytes.
func (c *client) waitLen(n int) string {
	c.t.Helper()
	c.waitFor(func(s string) bool { return len(s) == n })
	return c.doc.Text("t").String()
}

func (c *client) waitFor(ok func(string) bool) {
	c.t.Helper()
	for !ok(c.doc.Text("t").String()) {
		m := c.expect(MsgSync)
		if m.Sync == SyncStep1 {
			continue
		}
		if err := c.doc.ApplyUpdate(m.Payload); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *client) insert(pos int, s string) []byte {
	return c.edit(func(d *crdt.Doc) {
		if err := d.Text("t").Insert(pos, s, nil); err != nil {
			c.t.Fatal(err)
		}
	})
}

// leave hangs up each client and waits for its Serve to return.
func leave(cls ...*client) {
	for _, c := range cls {
		c.conn.hangUp()
		c.wait()
	}
}

// wait waits for Serve to return.
func (c *client) wait() error {
	c.t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(5 * time.Second):
		c.t.Fatalf("%s: Serve did not return", c.conn.name)
		return nil
	}
}

// serverText reads the text as the server has it.
func serverText(t testing.TB, h *Hub, name string) string {
	t.Helper()
	var text string
	if err := h.Read(context.Background(), name, func(d *crdt.Doc) error {
		text = d.Text("t").String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return text
}

// testHub returns a hub on st with short timers, closed at the end of the
// test, and checks that no goroutine leaks.
func testHub(t *testing.T, st storage.Store, mod func(*Config)) *Hub {
	t.Helper()
	base := runtime.NumGoroutine()
	cfg := Config{Store: st, Grace: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	h := NewHub(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("hub close: %v", err)
		}
		checkGoroutines(t, base)
	})
	return h
}

// checkGoroutines fails if more goroutines than base are still running
// after a short settling time.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutine leak: %d running, %d before\n%s", n, base, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventually polls cond until it holds or a timeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hookStore wraps a Store to count, block or fail operations.
type hookStore struct {
	storage.Store
	loads   atomic.Int64
	appends atomic.Int64
	// gate, if set, is received from before each Append proceeds.
	gate      chan struct{}
	failNext  atomic.Bool
	loadDelay atomic.Int64 // nanoseconds
	// compactDelay makes each Compact take at least this long.
	compactDelay time.Duration
}

func (s *hookStore) Compact(ctx context.Context, doc string, snapshot []byte, through uint64) error {
	time.Sleep(s.compactDelay)
	return s.Store.Compact(ctx, doc, snapshot, through)
}

var errInjected = errors.New("injected storage failure")

func (s *hookStore) Load(ctx context.Context, doc string) (storage.State, error) {
	s.loads.Add(1)
	if d := time.Duration(s.loadDelay.Load()); d > 0 {
		time.Sleep(d)
	}
	return s.Store.Load(ctx, doc)
}

func (s *hookStore) Append(ctx context.Context, doc string, updates ...[]byte) (storage.Meta, error) {
	if s.gate != nil {
		<-s.gate
	}
	s.appends.Add(1)
	if s.failNext.CompareAndSwap(true, false) {
		return storage.Meta{}, fmt.Errorf("append: %w", errInjected)
	}
	return s.Store.Append(ctx, doc, updates...)
}

func testGoroutines() int { return runtime.NumGoroutine() }
