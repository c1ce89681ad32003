package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

// TestPeerLimits: each per-peer limit closes the peer that broke it with
// the documented code and a reason; the document and the other peer carry
// on.
func TestPeerLimits(t *testing.T) {
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name  string
		mod   func(*Config)
		abuse func(t *testing.T, c *client)
		code  int
	}{
		{
			name: "awareness state too large",
			mod:  func(c *Config) { c.MaxAwarenessBytes = 1024 },
			abuse: func(t *testing.T, c *client) {
				c.conn.send(t, EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 9, Clock: 1, State: []byte(big)}})))
			},
			code: ClosePolicy,
		},
		{
			name: "message rate",
			mod:  func(c *Config) { c.RateMessages = 10; c.RateBurstMessages = 20 },
			abuse: func(t *testing.T, c *client) {
				for i := 0; i < 40; i++ {
					c.conn.send(t, EncodeQueryAwareness())
				}
			},
			code: ClosePolicy,
		},
		{
			name: "byte rate",
			mod:  func(c *Config) { c.RateBytes = 1000; c.RateBurstBytes = 4000 },
			abuse: func(t *testing.T, c *client) {
				c.conn.send(t, EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 9, Clock: 1, State: []byte(big)}})))
				c.conn.send(t, EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 9, Clock: 2, State: []byte(big)}})))
				c.conn.send(t, EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 9, Clock: 3, State: []byte(big)}})))
			},
			code: ClosePolicy,
		},
		{
			name: "document size",
			mod:  func(c *Config) { c.MaxDocBytes = 4096 },
			abuse: func(t *testing.T, c *client) {
				c.insert(0, strings.Repeat("y", 5000))
			},
			code: CloseDocTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHub(t, storage.NewMemory(), tt.mod)
			good := dial(t, h, "doc", "good")
			bad := dial(t, h, "doc", "bad")
			good.insert(0, "ok")
			good.waitText("ok")
			tt.abuse(t, bad)
			if code, reason := bad.conn.closeInfo(t); code != tt.code || reason == "" {
				t.Errorf("abuser closed with %d %q, want %d and a reason", code, reason, tt.code)
			}
			bad.wait()
			good.insert(2, "!")
			eventually(t, "the edit after the abuse", func() bool { return serverText(t, h, "doc") == "ok!" })
			good.conn.hangUp()
			good.wait()
		})
	}
}

// TestDocSizeLimitREST: over REST the refused update is an error and the
// document is untouched.
func TestDocSizeLimitREST(t *testing.T) {
	h := testHub(t, storage.NewMemory(), func(c *Config) { c.MaxDocBytes = 4096 })
	d := crdt.NewDoc(crdt.Options{})
	var u []byte
	d.OnUpdate(func(b []byte) { u = b })
	if err := d.Text("t").Insert(0, strings.Repeat("z", 5000), nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Apply(context.Background(), "doc", u); !errors.Is(err, ErrDocTooLarge) {
		t.Fatalf("Apply: %v, want ErrDocTooLarge", err)
	}
	if got := serverText(t, h, "doc"); got != "" {
		t.Fatalf("document holds %d characters after a refused update", len(got))
	}
}

// TestMaxPeersPerDoc: a peer over the limit is refused with 1013 and the
// others are unaffected.
func TestMaxPeersPerDoc(t *testing.T) {
	h := testHub(t, storage.NewMemory(), func(c *Config) { c.MaxPeersPerDoc = 2 })
	a := dial(t, h, "doc", "a")
	b := dial(t, h, "doc", "b")
	c := &client{t: t, conn: newPipe("c", 16), done: make(chan error, 1)}
	if err := h.Serve(context.Background(), "doc", c.conn, Access{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("third peer: %v, want ErrBusy", err)
	}
	if code, reason := c.conn.closeInfo(t); code != CloseTryAgainLater || reason == "" {
		t.Fatalf("third peer closed with %d %q", code, reason)
	}
	a.insert(0, "x")
	b.waitText("x")
	a.conn.hangUp()
	b.conn.hangUp()
	a.wait()
	b.wait()
}

// TestMaxDocsLRU: at the limit, the least recently used document without
// peers is unloaded to make room; when every loaded document has peers,
// a new one is refused.
func TestMaxDocsLRU(t *testing.T) {
	h := testHub(t, storage.NewMemory(), func(c *Config) { c.MaxDocs = 2; c.Grace = time.Hour })
	read := func(name string) error {
		return h.Read(context.Background(), name, func(*crdt.Doc) error { return nil })
	}
	for _, n := range []string{"old", "newer"} {
		if err := read(n); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // distinct lastActive
	}
	if err := read("third"); err != nil {
		t.Fatalf("third document: %v", err)
	}
	eventually(t, "the least recently used document unloaded", func() bool {
		_, oldLoaded := h.loaded("old")
		_, newerLoaded := h.loaded("newer")
		return !oldLoaded && newerLoaded
	})
	// Pin both loaded documents with peers: a third is refused.
	a := dial(t, h, "newer", "a")
	b := dial(t, h, "third", "b")
	eventually(t, "two loaded", func() bool { return h.Stats().Docs == 2 })
	if err := read("fourth"); !errors.Is(err, ErrBusy) {
		t.Fatalf("fourth document with every loaded one in use: %v, want ErrBusy", err)
	}
	c := &client{t: t, conn: newPipe("c", 16), done: make(chan error, 1)}
	if err := h.Serve(context.Background(), "fifth", c.conn, Access{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("peer on a fifth document: %v, want ErrBusy", err)
	}
	if code, _ := c.conn.closeInfo(t); code != CloseTryAgainLater {
		t.Fatalf("refused peer closed with %d, want %d", code, CloseTryAgainLater)
	}
	a.conn.hangUp()
	b.conn.hangUp()
	a.wait()
	b.wait()
}

// TestPendingLimit: a peer whose updates wait for dependencies that never
// arrive is cut off once more than MaxPendingBytes waits; what waited is
// dropped (not in the document, not in its snapshot), and the other peer
// carries on.
func TestPendingLimit(t *testing.T) {
	st := storage.NewMemory()
	h := testHub(t, st, func(c *Config) { c.MaxPendingBytes = 600 })
	good := dial(t, h, "doc", "good")
	bad := dial(t, h, "doc", "bad")
	good.insert(0, "ok")
	good.waitText("ok")

	// The attacker's replica makes a first edit it never sends, then
	// edits that all depend on it.
	src := crdt.NewDoc(crdt.Options{ClientID: 4242})
	var ups [][]byte
	src.OnUpdate(func(u []byte) { ups = append(ups, u) })
	for i := 0; i < 20; i++ {
		if err := src.Text("t").Insert(0, strings.Repeat("p", 100), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range ups[1:] {
		if bad.conn.isClosed() {
			break
		}
		bad.conn.send(t, EncodeSyncUpdate(u))
	}
	if code, reason := bad.conn.closeInfo(t); code != ClosePolicy || reason == "" {
		t.Fatalf("attacker closed with %d %q, want %d", code, reason, ClosePolicy)
	}
	bad.wait()
	good.insert(2, "!")
	eventually(t, "the edit after the attack", func() bool { return serverText(t, h, "doc") == "ok!" })
	if err := h.Read(context.Background(), "doc", func(d *crdt.Doc) error {
		if n := d.PendingSize(); n != 0 {
			t.Errorf("%d bytes still pending after the cut-off", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The compaction that followed left nothing of the attack on disk.
	eventually(t, "compaction", func() bool {
		s, err := st.Load(context.Background(), "doc")
		if err != nil {
			return false
		}
		d := crdt.NewDoc(crdt.Options{})
		for _, u := range append([][]byte{s.Snapshot}, s.Updates...) {
			if len(u) > 0 {
				_ = d.ApplyUpdate(u)
			}
		}
		return d.PendingSize() == 0 && d.Text("t").String() == "ok!"
	})
	good.conn.hangUp()
	good.wait()
}

// TestCloseCutsOffStuckPeer: when Close's time is up and every document
// is durable, a peer that stopped reading is cut off rather than waited
// for, and Close succeeds.
func TestCloseCutsOffStuckPeer(t *testing.T) {
	st := storage.NewMemory()
	h := NewHub(Config{Store: st, Grace: time.Hour})
	a := dial(t, h, "doc", "a")
	stuck := dial(t, h, "doc", "stuck")
	stuck.conn.stall.Store(true)
	a.insert(0, "kept")
	a.expect(MsgSync)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if code, _ := a.conn.closeInfo(t); code != CloseGoingAway {
		t.Errorf("reading peer closed with %d, want %d", code, CloseGoingAway)
	}
	if !stuck.conn.isClosed() {
		t.Error("the stuck peer's connection is still open")
	}
	s, err := st.Load(context.Background(), "doc")
	if err != nil || len(s.Updates)+len(s.Snapshot) == 0 {
		t.Fatalf("nothing stored (%v)", err)
	}
}
