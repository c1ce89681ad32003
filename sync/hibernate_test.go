package sync

import (
	"bytes"
	"context"
	"strings"
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
// with part of the document both get what they lack, edits are relayed
// without a replica, and a read wakes it with nothing lost.
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
	b.insert(5, " world") // relayed cold
	a.waitText("hello world")
	if h.Stats().Hibernating != 1 {
		t.Fatal("an edit woke the document")
	}
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
	leave(a, b, c)
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

// TestColdRelay: a document loads cold and relays its clients' edits
// without a replica: they reach the other peers and the store, and a
// restart finds them. An update with a missing dependency wakes it, the
// replica keeps what waits, and the dependency completes it.
func TestColdRelay(t *testing.T) {
	st := storage.NewMemory()
	h := hibernatingHub(t, st)
	a := dial(t, h, "doc", "a")
	b := dial(t, h, "doc", "b")
	if h.Stats().Hibernating != 1 {
		t.Fatalf("%d documents cold after load, want 1", h.Stats().Hibernating)
	}
	a.insert(0, "hello")
	b.waitText("hello")
	b.insert(5, " world")
	a.waitText("hello world")
	a.edit(func(d *crdt.Doc) { _ = d.Text("t").Delete(0, 1) })
	b.waitText("ello world")
	if h.Stats().Hibernating != 1 {
		t.Fatal("edits woke the document")
	}
	stored := func() string {
		s, err := st.Load(context.Background(), "doc")
		if err != nil {
			t.Fatal(err)
		}
		d := crdt.NewDoc(crdt.Options{})
		for _, u := range append([][]byte{s.Snapshot}, s.Updates...) {
			if len(u) > 0 {
				if err := d.ApplyUpdate(u); err != nil {
					t.Fatal(err)
				}
			}
		}
		return d.Text("t").String()
	}
	if got := stored(); got != "ello world" {
		t.Fatalf("stored %q, want %q", got, "ello world")
	}
	// Hub.State (the REST yjs export) answers from the bytes too.
	for _, sv := range [][]byte{nil, a.doc.EncodeStateVector()} {
		u, err := h.State(context.Background(), "doc", sv)
		if err != nil {
			t.Fatal(err)
		}
		d := crdt.NewDoc(crdt.Options{})
		if sv != nil { // a client with a's state
			if err := d.ApplyUpdate(mustState(t, a.doc)); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.ApplyUpdate(u); err != nil || d.Text("t").String() != "ello world" {
			t.Fatalf("State(%x) gives %q (%v)", sv, d.Text("t").String(), err)
		}
	}
	if h.Stats().Hibernating != 1 {
		t.Fatal("Hub.State woke the document")
	}

	// An edit by a client the server has not heard from, on top of one
	// it has not received: it waits, in a replica, and is kept.
	other := crdt.NewDoc(crdt.Options{ClientID: 4242})
	if err := other.ApplyUpdate(mustState(t, a.doc)); err != nil {
		t.Fatal(err)
	}
	var ups [][]byte
	other.OnUpdate(func(u []byte) { ups = append(ups, append([]byte(nil), u...)) })
	if err := other.Text("t").Insert(0, "[", nil); err != nil {
		t.Fatal(err)
	}
	if err := other.Text("t").Insert(1, "!", nil); err != nil {
		t.Fatal(err)
	}
	a.conn.send(t, EncodeSyncUpdate(ups[1]))
	eventually(t, "the wake", func() bool { return h.Stats().Hibernating == 0 })
	if got := stored(); got != "ello world" {
		t.Fatalf("stored %q while the edit waits, want %q", got, "ello world")
	}
	a.conn.send(t, EncodeSyncUpdate(ups[0]))
	b.waitText("[!ello world")
	if got := stored(); got != "[!ello world" {
		t.Fatalf("stored %q, want %q", got, "[!ello world")
	}
	leave(a, b)
}

// TestColdCompaction: compacting a cold document re-encodes its merged
// updates through a replica, which drops deleted text, and new clients
// then get that encoding.
func TestColdCompaction(t *testing.T) {
	st := storage.NewMemory()
	h := hibernatingHub(t, st)
	a := dial(t, h, "doc", "a")
	a.insert(0, "keep secret")
	a.expect(MsgSync)
	a.edit(func(d *crdt.Doc) { _ = d.Text("t").Delete(4, 7) })
	a.expect(MsgSync)
	if err := h.Compact(context.Background(), "doc"); err != nil {
		t.Fatal(err)
	}
	if h.Stats().Hibernating != 1 {
		t.Fatal("compaction woke the document")
	}
	s, err := st.Load(context.Background(), "doc")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s.Snapshot, []byte("secret")) {
		t.Fatal("the snapshot keeps deleted text")
	}
	b := dial(t, h, "doc", "b")
	b.conn.send(t, EncodeSyncStep1([]byte{0}))
	m := b.expect(MsgSync)
	for m.Sync != SyncStep2 {
		m = b.expect(MsgSync)
	}
	if bytes.Contains(m.Payload, []byte("secret")) {
		t.Fatal("a new client gets deleted text")
	}
	if err := b.doc.ApplyUpdate(m.Payload); err != nil || b.doc.Text("t").String() != "keep" {
		t.Fatalf("new client has %q (%v)", b.doc.Text("t").String(), err)
	}
	leave(a, b)
}

// TestColdFold: a cold document merges its log into its base as it grows
// (coldLogMinBytes), beside the session; edits, joins and a restart
// meanwhile see every edit once.
func TestColdFold(t *testing.T) {
	st := storage.NewMemory()
	// No compaction (which merges the log too) in the way.
	noCompaction := func(c *Config) {
		c.Grace = time.Hour
		c.Policy = storage.Policy{MaxLogCount: 1 << 20, MaxLogBytes: 1 << 30, MinLogBytes: 1 << 30}
	}
	h := testHub(t, st, noCompaction)
	a := dial(t, h, "doc", "a")
	want := ""
	for i := 0; i < 2500; i++ {
		c := strings.Repeat(string(rune('a'+i%26)), 40)
		a.insert(len(want), c)
		want += c
		a.expect(MsgSync)
		if i%1200 == 1199 { // a join now and then, maybe while a merge runs
			b := dial(t, h, "doc", "b")
			b.conn.send(t, EncodeSyncStep1([]byte{0}))
			b.waitText(want)
			b.conn.hangUp()
			b.wait()
		}
	}
	if h.Stats().Hibernating != 1 {
		t.Fatal("edits woke the document")
	}
	a.conn.hangUp()
	a.wait()
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	h2 := testHub(t, st, noCompaction)
	if got := serverText(t, h2, "doc"); got != want {
		t.Fatalf("after a restart: %d characters, want %d", len(got), len(want))
	}
}
