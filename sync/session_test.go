package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

func TestJoinStep1Step2AndEcho(t *testing.T) {
	h := testHub(t, storage.NewMemory(), nil)
	a := dial(t, h, "doc", "a")
	// a answers the server's step 1 and asks with its own.
	a.conn.send(t, append(EncodeSyncStep2([]byte{0, 0}), EncodeSyncStep1(a.doc.EncodeStateVector())...))
	if m := a.expect(MsgSync); m.Sync != SyncStep2 || !bytes.Equal(m.Payload, []byte{0, 0}) {
		t.Fatalf("answer to step 1: %s % x", m.Sync, m.Payload)
	}
	a.insert(0, "hi")
	// The update is echoed to its sender.
	if m := a.expect(MsgSync); m.Sync != SyncUpdate {
		t.Fatalf("echo: %s", m.Sync)
	}
	b := dial(t, h, "doc", "b")
	b.conn.send(t, EncodeSyncStep1(b.doc.EncodeStateVector()))
	b.waitText("hi")
	b.insert(2, "!")
	a.waitText("hi!")
	b.waitText("hi!")
	a.conn.hangUp()
	b.conn.hangUp()
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
	b.wait()
}

// TestPersistBeforeBroadcast holds the store's Append and checks that no
// peer hears of an update before it is durable, and that one Append takes
// every update waiting (group commit).
func TestPersistBeforeBroadcast(t *testing.T) {
	st, a, b := gatedPair(t)
	for i := 0; i < 5; i++ { // queue behind it, for one batch
		b.insert(0, fmt.Sprint(i))
	}
	time.Sleep(50 * time.Millisecond)
	select {
	case f := <-a.conn.fromSrv:
		t.Fatalf("a got % x before the update was durable", f)
	case f := <-b.conn.fromSrv:
		t.Fatalf("b got % x before the update was durable", f)
	default:
	}
	close(st.gate)
	if ta, tb := a.waitLen(6), b.waitLen(6); ta != tb {
		t.Fatalf("a has %q, b has %q", ta, tb)
	}
	if n := st.appends.Load(); n != 2 {
		t.Errorf("%d appends, want 2 (one, then a group of 5)", n)
	}
	stt, err := st.Load(context.Background(), "doc")
	if err != nil || len(stt.Updates) != 6 {
		t.Fatalf("stored %d updates (%v), want 6", len(stt.Updates), err)
	}
	a.conn.hangUp()
	b.conn.hangUp()
	a.wait()
	b.wait()
}

// gatedPair starts two peers a and b on one document of a store whose
// Appends wait for st.gate to close, and has a insert "x", whose Append is
// then waiting: whatever the test sends next queues behind it and makes
// one batch.
func gatedPair(t *testing.T) (st *hookStore, a, b *client) {
	st = &hookStore{Store: storage.NewMemory(), gate: make(chan struct{})}
	h := testHub(t, st, nil)
	a = dial(t, h, "doc", "a")
	b = dial(t, h, "doc", "b")
	a.insert(0, "x")
	time.Sleep(20 * time.Millisecond)
	return st, a, b
}

// TestBadInputIsolation: each kind of bad input closes its sender with the
// right code; the other peer and the document carry on.
func TestBadInputIsolation(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		code  int
	}{
		{"undecodable frame", []byte{0x00, 0x02, 0x05, 0x01}, CloseInvalidPayload},
		{"malformed update", EncodeSyncUpdate([]byte{0x01, 0x01, 0x0b, 0x00, 0xff, 0xff}), CloseInvalidPayload},
		{"malformed state vector", EncodeSyncStep1([]byte{0x05, 0x01}), CloseInvalidPayload},
		{"awareness not json", EncodeAwareness([]byte{1, 1, 1, 3, 'a', 'b', 'c'}), CloseInvalidPayload},
		{"empty frame", []byte{}, CloseInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHub(t, storage.NewMemory(), nil)
			good := dial(t, h, "doc", "good")
			bad := dial(t, h, "doc", "bad")
			good.insert(0, "ok")
			good.waitText("ok")
			bad.conn.send(t, tt.frame)
			if code, reason := bad.conn.closeInfo(t); code != tt.code || reason == "" {
				t.Errorf("bad peer closed with %d %q, want %d and a reason", code, reason, tt.code)
			}
			bad.wait()
			good.insert(2, "!")
			eventually(t, "the edit after bad input", func() bool { return serverText(t, h, "doc") == "ok!" })
			good.conn.hangUp()
			good.wait()
		})
	}
}

// TestSlowPeerCutOff: a peer that stops reading is closed with 1013 once
// its outbox overflows, while the session keeps serving the others.
func TestSlowPeerCutOff(t *testing.T) {
	h := testHub(t, storage.NewMemory(), func(c *Config) { c.OutboxMessages = 8 })
	slow := dial(t, h, "doc", "slow")
	slow.conn.stall.Store(true)
	fast := dial(t, h, "doc", "fast")
	for i := 0; i < 40; i++ {
		fast.insert(0, "a")
		fast.expect(MsgSync)
	}
	if code, _ := slow.conn.closeInfo(t); code != CloseTryAgainLater {
		t.Fatalf("slow peer closed with %d, want %d", code, CloseTryAgainLater)
	}
	slow.wait()
	fast.insert(0, "b")
	fast.expect(MsgSync)
	fast.conn.hangUp()
	fast.wait()
}

// TestAwarenessLeave: awareness propagates to every peer (the sender
// included), a query is answered, and a leaving peer's states are removed
// and announced.
func TestAwarenessLeave(t *testing.T) {
	h := testHub(t, storage.NewMemory(), nil)
	a := dial(t, h, "doc", "a")
	b := dial(t, h, "doc", "b")
	state := EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 42, Clock: 1, State: []byte(`{"user":"a"}`)}})
	a.conn.send(t, EncodeAwareness(state))
	for _, c := range []*client{a, b} {
		if m := c.expect(MsgAwareness); !bytes.Equal(m.Payload, state) {
			t.Fatalf("%s got awareness % x", c.conn.name, m.Payload)
		}
	}
	c := dial(t, h, "doc", "c") // a newcomer gets the states after step 1
	if m := c.expect(MsgAwareness); !bytes.Equal(m.Payload, state) {
		t.Fatalf("newcomer got awareness % x", m.Payload)
	}
	c.conn.send(t, EncodeQueryAwareness())
	if m := c.expect(MsgAwareness); !bytes.Equal(m.Payload, state) {
		t.Fatalf("query answer % x", m.Payload)
	}
	a.conn.hangUp()
	a.wait()
	removal := EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 42, Clock: 1}})
	for _, c := range []*client{b, c} {
		if m := c.expect(MsgAwareness); !bytes.Equal(m.Payload, removal) {
			t.Fatalf("%s got % x, want the removal % x", c.conn.name, m.Payload, removal)
		}
	}
	b.conn.hangUp()
	c.conn.hangUp()
	b.wait()
	c.wait()
}

// TestConcurrentJoinsLoadOnce: peers joining a document at once share one
// load, and none is answered before the load completed.
func TestConcurrentJoinsLoadOnce(t *testing.T) {
	mem := storage.NewMemory()
	seed := crdt.NewDoc(crdt.Options{ClientID: 9})
	var ups [][]byte
	seed.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = seed.Text("t").Insert(0, "stored", nil)
	if _, err := mem.Append(context.Background(), "doc", ups...); err != nil {
		t.Fatal(err)
	}
	st := &hookStore{Store: mem}
	st.loadDelay.Store(int64(100 * time.Millisecond))
	h := testHub(t, st, nil)
	var wg gosync.WaitGroup
	clients := make([]*client, 8)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i] = dial(t, h, "doc", fmt.Sprint("c", i))
		}()
	}
	wg.Wait()
	if n := st.loads.Load(); n != 1 {
		t.Errorf("%d loads, want 1", n)
	}
	for _, c := range clients {
		c.conn.send(t, EncodeSyncStep1(c.doc.EncodeStateVector()))
		c.waitText("stored")
		c.conn.hangUp()
		c.wait()
	}
}

// TestUnloadAfterGrace: a document is unloaded a grace period after its
// last peer left, and loads again (with its content) on the next join.
func TestUnloadAfterGrace(t *testing.T) {
	st := &hookStore{Store: storage.NewMemory()}
	h := testHub(t, st, func(c *Config) { c.Grace = 100 * time.Millisecond })
	a := dial(t, h, "doc", "a")
	a.insert(0, "kept")
	a.expect(MsgSync)
	a.conn.hangUp()
	a.wait()
	if s := h.Stats(); s.Docs != 1 {
		t.Fatalf("%d docs loaded right after the peer left, want 1 (grace)", s.Docs)
	}
	eventually(t, "unload", func() bool { return h.Stats().Docs == 0 })
	b := dial(t, h, "doc", "b")
	b.conn.send(t, EncodeSyncStep1(b.doc.EncodeStateVector()))
	b.waitText("kept")
	if n := st.loads.Load(); n != 2 {
		t.Errorf("%d loads, want 2", n)
	}
	b.conn.hangUp()
	b.wait()
}

// TestRESTThroughSession: Apply, Edit and Read run in the session; peers
// see REST writes live, and REST writes are durable.
func TestRESTThroughSession(t *testing.T) {
	mem := storage.NewMemory()
	h := testHub(t, mem, nil)
	ctx := context.Background()
	a := dial(t, h, "doc", "a")
	if err := h.Edit(ctx, "doc", func(d *crdt.Doc) error { return d.Text("t").Insert(0, "rest", nil) }); err != nil {
		t.Fatal(err)
	}
	a.waitText("rest")
	other := crdt.NewDoc(crdt.Options{ClientID: 77})
	var ups [][]byte
	other.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = other.Text("t").Insert(0, ">", nil)
	if err := h.Apply(ctx, "doc", ups[0]); err != nil {
		t.Fatal(err)
	}
	if err := h.Apply(ctx, "doc", []byte{1, 2, 3}); !errors.Is(err, crdt.ErrMalformed) {
		t.Errorf("malformed Apply: %v, want ErrMalformed", err)
	}
	var text string
	if err := h.Read(ctx, "doc", func(d *crdt.Doc) error { text = d.Text("t").String(); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(text) != 5 {
		t.Errorf("read %q", text)
	}
	a.waitText(text)
	st, _ := mem.Load(ctx, "doc")
	replay := crdt.NewDoc(crdt.Options{})
	for _, u := range st.Updates {
		_ = replay.ApplyUpdate(u)
	}
	if got := replay.Text("t").String(); got != text {
		t.Errorf("stored %q, want %q", got, text)
	}
	// A panicking read is an error for its caller, not a crash, and the
	// peers stay.
	err := h.Read(ctx, "doc", func(d *crdt.Doc) error { d.Map("t"); return nil })
	if err == nil {
		t.Error("Read of a text as a map did not fail")
	}
	a.insert(0, "<")
	eventually(t, "the edit after a panicking read", func() bool { return len(serverText(t, h, "doc")) == 6 })
	// A panicking edit ends the session: the peers reconnect to a reload.
	err = h.Edit(ctx, "doc", func(d *crdt.Doc) error { d.Map("t"); return nil })
	if err == nil {
		t.Error("Edit of a text as a map did not fail")
	}
	if code, _ := a.conn.closeInfo(t); code != CloseInternal {
		t.Errorf("closed with %d after a panicking edit", code)
	}
	a.wait()
	if got := serverText(t, h, "doc"); len(got) != 6 {
		t.Errorf("after the reload: %q", got)
	}
}

// TestPersistFailure: when an Append fails nothing is broadcast, the peers
// are closed with 1011, and the next join reloads from storage.
func TestPersistFailure(t *testing.T) {
	st := &hookStore{Store: storage.NewMemory()}
	h := testHub(t, st, nil)
	a := dial(t, h, "doc", "a")
	b := dial(t, h, "doc", "b")
	a.insert(0, "one")
	a.expect(MsgSync)
	b.expect(MsgSync)
	st.failNext.Store(true)
	a.insert(3, "two")
	for _, c := range []*client{a, b} {
		for {
			select {
			case f := <-c.conn.fromSrv:
				if m, _ := DecodeFrame(f); len(m) == 1 && m[0].Type == MsgSync {
					t.Fatalf("%s got an update that was not persisted", c.conn.name)
				}
				continue
			case <-c.conn.closed:
			}
			break
		}
		if code, _ := c.conn.closeInfo(t); code != CloseInternal {
			t.Errorf("%s closed with %d, want %d", c.conn.name, code, CloseInternal)
		}
		c.wait()
	}
	// The client reconnects and resyncs: its unacknowledged edit is sent
	// again in its step 2.
	a2 := dial(t, h, "doc", "a2")
	a2.doc = a.doc
	a2.conn.send(t, EncodeSyncStep1(a2.doc.EncodeStateVector()))
	m := a2.expect(MsgSync)
	if m.Sync != SyncStep2 {
		t.Fatalf("got %s", m.Sync)
	}
	sv := crdt.NewDoc(crdt.Options{})
	_ = sv.ApplyUpdate(m.Payload)
	diff, _ := a.doc.EncodeStateAsUpdate(sv.EncodeStateVector())
	a2.conn.send(t, EncodeSyncStep2(diff))
	eventually(t, "resync", func() bool { return serverText(t, h, "doc") == "onetwo" })
	a2.conn.hangUp()
	a2.wait()
}

// TestLoadFailure: a document that does not load is not served empty.
func TestLoadFailure(t *testing.T) {
	mem := storage.NewMemory()
	if err := mem.Compact(context.Background(), "doc", []byte{0xff, 0xff, 0xff}, 0); err != nil {
		t.Fatal(err)
	}
	h := testHub(t, mem, nil)
	conn := newPipe("x", 8)
	err := h.Serve(context.Background(), "doc", conn, Access{})
	if err == nil {
		t.Fatal("Serve of an unloadable document succeeded")
	}
	if code, _ := conn.closeInfo(t); code != CloseInternal {
		t.Errorf("closed with %d", code)
	}
	select {
	case f := <-conn.fromSrv:
		t.Fatalf("an unloadable document was answered: % x", f)
	default:
	}
	if err := h.Read(context.Background(), "doc", func(*crdt.Doc) error { return nil }); err == nil {
		t.Error("Read of an unloadable document succeeded")
	}
}

// TestDelete closes the peers with 4410 and removes the document.
func TestDelete(t *testing.T) {
	mem := storage.NewMemory()
	h := testHub(t, mem, nil)
	ctx := context.Background()
	a := dial(t, h, "doc", "a")
	a.insert(0, "x")
	a.expect(MsgSync)
	if err := h.Delete(ctx, "doc"); err != nil {
		t.Fatal(err)
	}
	if code, _ := a.conn.closeInfo(t); code != CloseDocumentDeleted {
		t.Errorf("closed with %d", code)
	}
	a.wait()
	if _, err := h.Info(ctx, "doc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Info after delete: %v", err)
	}
	if err := h.Delete(ctx, "doc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// A stored document that is not loaded.
	if _, err := mem.Append(ctx, "cold", []byte{0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := h.Delete(ctx, "cold"); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Stat(ctx, "cold"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("cold doc still stored: %v", err)
	}
}

// TestCompaction: the log is compacted under the policy, inside the
// session, while edits go on; the document loads the same afterwards.
func TestCompaction(t *testing.T) {
	mem := storage.NewMemory()
	h := testHub(t, mem, func(c *Config) { c.Policy = storage.Policy{MaxLogCount: 10} })
	a := dial(t, h, "doc", "a")
	want := ""
	// Rounds of 12 edits: each leaves at least 10 log entries that no
	// compaction covered yet, however the compactions (which run beside
	// the edits) happen to interleave with them.
	for round := uint64(1); round <= 3; round++ {
		for i := 0; i < 12; i++ {
			a.insert(0, "x")
			want += "x"
			a.expect(MsgSync)
		}
		eventually(t, "compactions", func() bool { return h.Stats().Compactions >= round })
	}
	m, err := mem.Stat(context.Background(), "doc")
	if err != nil || m.SnapshotBytes == 0 || m.LogCount >= 10 {
		t.Fatalf("after compaction: %+v, %v", m, err)
	}
	if err := h.Compact(context.Background(), "doc"); err != nil {
		t.Fatal(err)
	}
	a.conn.hangUp()
	a.wait()
	st, _ := mem.Load(context.Background(), "doc")
	d := crdt.NewDoc(crdt.Options{})
	_ = d.ApplyUpdate(st.Snapshot)
	for _, u := range st.Updates {
		_ = d.ApplyUpdate(u)
	}
	if got := d.Text("t").String(); got != want {
		t.Errorf("reloaded %q, want %q", got, want)
	}
}

// TestCloseAndRestartBolt: Hub.Close closes peers with 1001 after flushing;
// a new hub on the reopened bolt file has everything, nothing doubled.
func TestCloseAndRestartBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quire.db")
	st, err := storage.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	base := testGoroutines()
	h := NewHub(Config{Store: st})
	a := dial(t, h, "doc", "a")
	b := dial(t, h, "doc", "b")
	a.insert(0, "hello ")
	b.insert(0, "world")
	// Both have seen both edits: they are durable. (Frames the server has
	// not read when it stops were never acknowledged; the clients send
	// them again when they reconnect.)
	a.waitLen(11)
	b.waitLen(11)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if code, _ := c.conn.closeInfo(t); code != CloseGoingAway {
			t.Errorf("%s closed with %d, want 1001", c.conn.name, code)
		}
		c.wait()
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkGoroutines(t, base)

	st2, err := storage.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	var text string
	h2 := NewHub(Config{Store: st2})
	if err := h2.Read(context.Background(), "doc", func(d *crdt.Doc) error { text = d.Text("t").String(); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(text) != len("hello world") {
		t.Errorf("after restart: %q", text)
	}
	if err := h2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := h.Info(ctx, "x"); err == nil {
		t.Log("Info works after close (reads the store)")
	}
	if err := h.Read(ctx, "doc", func(*crdt.Doc) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after close: %v", err)
	}
}

func TestListInfo(t *testing.T) {
	mem := storage.NewMemory()
	h := testHub(t, mem, nil)
	ctx := context.Background()
	a := dial(t, h, "b-live", "a")
	_ = h.Edit(ctx, "a-stored", func(d *crdt.Doc) error { return d.Text("t").Insert(0, "x", nil) })
	list, err := h.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "a-stored" || list[0].Bytes == 0 || list[1].Name != "b-live" || list[1].Peers != 1 {
		t.Errorf("list: %+v", list)
	}
	info, err := h.Info(ctx, "b-live")
	if err != nil || !info.Loaded || info.Peers != 1 {
		t.Errorf("info: %+v %v", info, err)
	}
	if _, err := h.Info(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("info of a missing doc: %v", err)
	}
	for _, bad := range []string{"", "a\x00b", string(make([]byte, 300)), "\xff"} {
		if _, err := h.Info(ctx, bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	a.conn.hangUp()
	a.wait()
}

// TestBatchBroadcastMerged: what one batch broadcasts reaches each peer as
// one update (the batch's updates merged) and one awareness message (the
// latest entry of each client), whatever the number of messages that
// arrived.
func TestBatchBroadcastMerged(t *testing.T) {
	st, a, b := gatedPair(t)
	aw := func(client, clock uint64, state string) []byte {
		return EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: client, Clock: clock, State: []byte(state)}}))
	}
	for i := 0; i < 5; i++ { // queue behind it, for one batch
		b.insert(0, fmt.Sprint(i))
		b.conn.send(t, aw(7, uint64(i+1), fmt.Sprintf(`{"cursor":%d}`, i)))
	}
	b.conn.send(t, aw(8, 1, `{"name":"b"}`))
	time.Sleep(50 * time.Millisecond)
	close(st.gate)

	for _, c := range []*client{a, b} {
		if m := c.expect(MsgSync); m.Sync != SyncUpdate { // the first batch: a's "x"
			t.Fatalf("%s: got sync %s, want an update", c.conn.name, m.Sync)
		}
		m := c.expect(MsgSync)
		if m.Sync != SyncUpdate {
			t.Fatalf("%s: got sync %s, want an update", c.conn.name, m.Sync)
		}
		d := crdt.NewDoc(crdt.Options{})
		if err := d.ApplyUpdate(m.Payload); err != nil {
			t.Fatal(err)
		}
		if got := len(d.Text("t").String()); got != 5 {
			t.Errorf("%s: the second batch's update holds %d characters (%q), want all 5", c.conn.name, got, d.Text("t").String())
		}
		m = c.expect(MsgAwareness)
		entries, err := DecodeAwarenessUpdate(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		want := []AwarenessEntry{{ClientID: 7, Clock: 5, State: []byte(`{"cursor":4}`)}, {ClientID: 8, Clock: 1, State: []byte(`{"name":"b"}`)}}
		if fmt.Sprint(entries) != fmt.Sprint(want) {
			t.Errorf("%s: awareness %v, want %v", c.conn.name, entries, want)
		}
		select {
		case f := <-c.conn.fromSrv:
			t.Errorf("%s: a further frame % x; the batch should have sent two", c.conn.name, f)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if n := st.appends.Load(); n != 2 {
		t.Errorf("%d appends, want 2", n)
	}
	a.conn.hangUp()
	b.conn.hangUp()
	a.wait()
	b.wait()
}

func TestLatestEntries(t *testing.T) {
	e := func(client, clock uint64) AwarenessEntry { return AwarenessEntry{ClientID: client, Clock: clock} }
	for _, tc := range []struct {
		in, want []AwarenessEntry
	}{
		{nil, nil},
		{[]AwarenessEntry{e(3, 1)}, []AwarenessEntry{e(3, 1)}},
		{[]AwarenessEntry{e(3, 1), e(1, 4), e(3, 2), e(2, 1), e(1, 5), e(3, 7)}, []AwarenessEntry{e(1, 5), e(2, 1), e(3, 7)}},
		// A removal after a state, as a leave in the same batch.
		{[]AwarenessEntry{{ClientID: 4, Clock: 2, State: []byte(`{}`)}, {ClientID: 4, Clock: 2, State: nullJSON}}, []AwarenessEntry{{ClientID: 4, Clock: 2, State: nullJSON}}},
	} {
		if got := latestEntries(append([]AwarenessEntry(nil), tc.in...)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("latestEntries(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestCompactionHeldBack: after a compaction, the next one the policy asks
// for waits compactDuty times what the last one cost, and then happens
// without further edits.
func TestCompactionHeldBack(t *testing.T) {
	st := &hookStore{Store: storage.NewMemory(), compactDelay: 20 * time.Millisecond}
	h := testHub(t, st, func(c *Config) { c.Policy = storage.Policy{MaxLogCount: 5} })
	a := dial(t, h, "doc", "a")
	edits := func(n int) {
		for i := 0; i < n; i++ {
			a.insert(0, "x")
			a.expect(MsgSync)
		}
	}
	edits(5)
	eventually(t, "the first compaction", func() bool { return h.Stats().Compactions == 1 })
	t0 := time.Now()
	edits(6)
	time.Sleep(300 * time.Millisecond)
	if n := h.Stats().Compactions; n != 1 {
		t.Fatalf("%d compactions within %v of the first, which cost over 20ms; want it held back for about %v", n, time.Since(t0), 20*time.Millisecond*compactDuty)
	}
	eventually(t, "the held-back compaction", func() bool { return h.Stats().Compactions == 2 })
	if m, err := st.Stat(context.Background(), "doc"); err != nil || m.LogCount >= 5 {
		t.Fatalf("after the second compaction: %+v, %v", m, err)
	}
	a.conn.hangUp()
	a.wait()
}

func TestBatchPace(t *testing.T) {
	for _, tc := range []struct {
		peers int
		want  time.Duration
	}{{0, 0}, {2, 60 * time.Microsecond}, {250, 7500 * time.Microsecond}, {1000, maxPace}} {
		s := &Session{peers: map[*Peer]struct{}{}}
		for i := 0; i < tc.peers; i++ {
			s.peers[&Peer{id: uint64(i)}] = struct{}{}
		}
		if got := s.batchPace(); got != tc.want {
			t.Errorf("%d peers: pace %v, want %v", tc.peers, got, tc.want)
		}
	}
}

// TestCompactionDoesNotStall: the policy's compaction of a hot document
// being edited is built from the store beside the session, so edits go on
// while it runs.
func TestCompactionDoesNotStall(t *testing.T) {
	st := &hookStore{Store: storage.NewMemory()}
	h := testHub(t, st, func(c *Config) {
		c.Policy = storage.Policy{MaxLogCount: 5}
		c.HibernateAfter = -1 // hot throughout
	})
	a := dial(t, h, "doc", "a")
	st.loadDelay.Store(int64(500 * time.Millisecond)) // from now on: the compaction's read of the store
	for i := 0; i < 5; i++ {
		a.insert(0, "x")
		a.expect(MsgSync)
	}
	eventually(t, "the compaction to start", func() bool { return st.loads.Load() == 2 })
	t0 := time.Now()
	for i := 0; i < 3; i++ {
		a.insert(0, "y")
		a.expect(MsgSync)
	}
	if d := time.Since(t0); d > 250*time.Millisecond {
		t.Errorf("3 edits took %v while a compaction read the store for 500ms", d)
	}
	if n := h.Stats().Compactions; n != 0 {
		t.Errorf("%d compactions done already", n)
	}
	eventually(t, "the compaction", func() bool { return h.Stats().Compactions == 1 })
	a.conn.hangUp()
	a.wait()
	stt, err := st.Store.Load(context.Background(), "doc")
	if err != nil {
		t.Fatal(err)
	}
	d := crdt.NewDoc(crdt.Options{})
	_ = d.ApplyUpdate(stt.Snapshot)
	for _, u := range stt.Updates {
		_ = d.ApplyUpdate(u)
	}
	if got := d.Text("t").String(); got != "yyyxxxxx" {
		t.Errorf("stored %q, want yyyxxxxx", got)
	}
}

// TestCompactionLargeFromReplica: a document over maxStoreCompactBytes is
// compacted from the replica, without reading the store (a second replica
// of a large document would cost more than the stall).
func TestCompactionLargeFromReplica(t *testing.T) {
	n := maxStoreCompactBytes
	t.Cleanup(func() { maxStoreCompactBytes = n }) // after the hub's cleanup: cleanups run last first
	maxStoreCompactBytes = 0
	st := &hookStore{Store: storage.NewMemory()}
	h := testHub(t, st, func(c *Config) { c.Policy = storage.Policy{MaxLogCount: 5} })
	a := dial(t, h, "doc", "a")
	for i := 0; i < 5; i++ {
		a.insert(0, "x")
		a.expect(MsgSync)
	}
	eventually(t, "the compaction", func() bool { return h.Stats().Compactions == 1 })
	if n := st.loads.Load(); n != 1 {
		t.Errorf("%d loads, want 1 (the session's own): the compaction read the store", n)
	}
	a.conn.hangUp()
	a.wait()
}
