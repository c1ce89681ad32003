package sync

import (
	"context"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

func hibernatingHub(t *testing.T, st storage.Store) *Hub {
	return testHub(t, st, func(c *Config) {
		c.Grace = time.Hour
		c.HibernateAfter = 30 * time.Millisecond
		c.AwarenessTimeout = 200 * time.Millisecond // the check runs every 20 ms
	})
}

// TestHibernation: an idle document drops its replica and keeps serving:
// peers stay connected, a new client (empty state vector) and a client
// with part of the document both get what they lack, and the next edit
// or read wakes it with nothing lost.
func TestHibernation(t *testing.T) {
	h := hibernatingHub(t, storage.NewMemory())
	a := dial(t, h, "doc", "a")
	a.insert(0, "hello")
	a.expect(MsgSync) // echo
	eventually(t, "hibernation", func() bool { return h.Stats().Hibernating == 1 })

	// A new client syncs from the encoded state.
	b := dial(t, h, "doc", "b")
	b.conn.send(t, EncodeSyncStep1(b.doc.EncodeStateVector()))
	b.waitText("hello")
	if h.Stats().Hibernating != 1 {
		t.Fatal("a join woke the document")
	}
	// A client that has part of it gets the rest as a diff.
	c := dial(t, h, "doc", "c")
	part := crdt.NewDoc(crdt.Options{})
	if err := part.ApplyUpdate(mustState(t, b.doc)); err != nil {
		t.Fatal(err)
	}
	b.insert(5, " world") // wakes the document
	a.waitText("hello world")
	eventually(t, "hibernation again", func() bool { return h.Stats().Hibernating == 1 })
	c.doc = part
	c.conn.send(t, EncodeSyncStep1(c.doc.EncodeStateVector()))
	m := c.expect(MsgSync)
	for m.Sync == SyncUpdate { // b's edit, broadcast while c was connected
		m = c.expect(MsgSync)
	}
	if m.Sync != SyncStep2 {
		t.Fatalf("c got %s, want step 2", m.Sync)
	}
	if err := c.doc.ApplyUpdate(m.Payload); err != nil {
		t.Fatal(err)
	}
	if got := c.doc.Text("t").String(); got != "hello world" {
		t.Fatalf("c has %q after the diff, want %q", got, "hello world")
	}
	// A REST read wakes it too, and sees everything.
	if got := serverText(t, h, "doc"); got != "hello world" {
		t.Fatalf("server has %q, want %q", got, "hello world")
	}
	if h.Stats().Hibernating != 0 {
		t.Fatal("a read did not wake the document")
	}
	// An empty step 2 from a client does not wake it.
	eventually(t, "hibernation after the read", func() bool { return h.Stats().Hibernating == 1 })
	a.conn.send(t, EncodeSyncStep2([]byte{0, 0}))
	time.Sleep(10 * time.Millisecond)
	if h.Stats().Hibernating != 1 {
		t.Fatal("an empty update woke the document")
	}
	for _, cl := range []*client{a, b, c} {
		cl.conn.hangUp()
		cl.wait()
	}
}

// TestHibernatingCompaction: a hibernating document is compacted from its
// encoded state, and loads back whole.
func TestHibernatingCompaction(t *testing.T) {
	st := storage.NewMemory()
	h := hibernatingHub(t, st)
	a := dial(t, h, "doc", "a")
	for i := 0; i < 5; i++ {
		a.insert(0, "x")
		a.expect(MsgSync)
	}
	eventually(t, "hibernation", func() bool { return h.Stats().Hibernating == 1 })
	if err := h.Compact(context.Background(), "doc"); err != nil {
		t.Fatal(err)
	}
	if h.Stats().Hibernating != 1 {
		t.Fatal("compaction woke the document")
	}
	s, err := st.Load(context.Background(), "doc")
	if err != nil || len(s.Updates) != 0 || len(s.Snapshot) == 0 {
		t.Fatalf("after compaction: %d log entries, %d snapshot bytes, %v", len(s.Updates), len(s.Snapshot), err)
	}
	d := crdt.NewDoc(crdt.Options{})
	if err := d.ApplyUpdate(s.Snapshot); err != nil || d.Text("t").String() != "xxxxx" {
		t.Fatalf("snapshot holds %q (%v)", d.Text("t").String(), err)
	}
	a.conn.hangUp()
	a.wait()
}

func mustState(t *testing.T, d *crdt.Doc) []byte {
	t.Helper()
	u, err := d.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
