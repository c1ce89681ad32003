// Package storetest is the conformance suite every storage.Store must pass.
// A backend's tests call Run with a function that opens a fresh, empty
// store; passing it is what lets the session layer treat backends as
// interchangeable.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quirehq/quire/storage"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest ends (Close must
// therefore tolerate a second call). Subtests run in parallel where they
// can, so open must not hand two of them the same store.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"LoadUnknown", testLoadUnknown},
		{"Names", testNames},
		{"AppendLoadOrder", testAppendLoadOrder},
		{"EmptyUpdate", testEmptyUpdate},
		{"Compact", testCompact},
		{"AppendAfterCompact", testAppendAfterCompact},
		{"Delete", testDelete},
		{"List", testList},
		{"StatSizes", testStatSizes},
		{"Times", testTimes},
		{"ConcurrentAppends", testConcurrentAppends},
		{"LargeValues", testLargeValues},
		{"BufferReuse", testBufferReuse},
		{"CanceledContext", testCanceledContext},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

// upd makes a recognisable, non-empty update.
func upd(doc string, i int) []byte { return []byte(fmt.Sprintf("%s#%d", doc, i)) }

func mustAppend(t *testing.T, s storage.Store, doc string, updates ...[]byte) storage.Meta {
	t.Helper()
	m, err := s.Append(ctx, doc, updates...)
	if err != nil {
		t.Fatalf("Append(%q, %d updates): %v", doc, len(updates), err)
	}
	return m
}

func mustLoad(t *testing.T, s storage.Store, doc string) storage.State {
	t.Helper()
	st, err := s.Load(ctx, doc)
	if err != nil {
		t.Fatalf("Load(%q): %v", doc, err)
	}
	return st
}

func mustStat(t *testing.T, s storage.Store, doc string) storage.Meta {
	t.Helper()
	m, err := s.Stat(ctx, doc)
	if err != nil {
		t.Fatalf("Stat(%q): %v", doc, err)
	}
	return m
}

func mustCompact(t *testing.T, s storage.Store, doc string, snap []byte, through uint64) {
	t.Helper()
	if err := s.Compact(ctx, doc, snap, through); err != nil {
		t.Fatalf("Compact(%q, %d bytes, through %d): %v", doc, len(snap), through, err)
	}
}

// checkState compares a loaded state with the expected snapshot and log,
// and checks the Meta invariants the package documents.
func checkState(t *testing.T, st storage.State, snap []byte, updates [][]byte) {
	t.Helper()
	if !bytes.Equal(st.Snapshot, snap) {
		t.Errorf("snapshot = %s, want %s", short(st.Snapshot), short(snap))
	}
	if len(st.Updates) != len(updates) {
		t.Fatalf("got %d updates, want %d", len(st.Updates), len(updates))
	}
	for i := range updates {
		if !bytes.Equal(st.Updates[i], updates[i]) {
			t.Fatalf("update %d = %s, want %s", i, short(st.Updates[i]), short(updates[i]))
		}
	}
	checkMetaInvariants(t, st.Meta)
	m := st.Meta
	var logBytes int64
	for _, u := range updates {
		logBytes += int64(len(u))
	}
	if m.LogCount != len(updates) || m.LogBytes != logBytes || m.SnapshotBytes != int64(len(snap)) {
		t.Errorf("meta = %+v, want LogCount %d LogBytes %d SnapshotBytes %d", m, len(updates), logBytes, len(snap))
	}
}

func checkMetaInvariants(t *testing.T, m storage.Meta) {
	t.Helper()
	if m.Bytes != m.SnapshotBytes+m.LogBytes {
		t.Errorf("%q: Bytes %d != SnapshotBytes %d + LogBytes %d", m.Name, m.Bytes, m.SnapshotBytes, m.LogBytes)
	}
	if m.SnapshotSeq > m.LastSeq || uint64(m.LogCount) != m.LastSeq-m.SnapshotSeq {
		t.Errorf("%q: LogCount %d, SnapshotSeq %d, LastSeq %d disagree", m.Name, m.LogCount, m.SnapshotSeq, m.LastSeq)
	}
	if !m.Created.IsZero() && m.Updated.Before(m.Created) {
		t.Errorf("%q: Updated %v before Created %v", m.Name, m.Updated, m.Created)
	}
}

func sameMeta(a, b storage.Meta) bool {
	return a.Name == b.Name && a.Bytes == b.Bytes && a.SnapshotBytes == b.SnapshotBytes &&
		a.LogBytes == b.LogBytes && a.LogCount == b.LogCount && a.LastSeq == b.LastSeq &&
		a.SnapshotSeq == b.SnapshotSeq && a.Created.Equal(b.Created) && a.Updated.Equal(b.Updated)
}

func short(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q...(%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func testLoadUnknown(t *testing.T, s storage.Store) {
	st := mustLoad(t, s, "nope")
	if st.Snapshot != nil || st.Updates != nil {
		t.Errorf("Load of unknown doc = %+v, want empty", st)
	}
	if !sameMeta(st.Meta, storage.Meta{Name: "nope"}) {
		t.Errorf("Load of unknown doc: Meta = %+v, want only the name", st.Meta)
	}
	if _, err := s.Stat(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat of unknown doc: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Delete of unknown doc: err = %v, want ErrNotFound", err)
	}
	// An Append of nothing must not create the document.
	if m := mustAppend(t, s, "nope"); !sameMeta(m, storage.Meta{Name: "nope"}) {
		t.Errorf("empty Append on unknown doc = %+v", m)
	}
	if _, err := s.Stat(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after empty Append: err = %v, want ErrNotFound", err)
	}
	if l, err := s.List(ctx); err != nil || len(l) != 0 {
		t.Errorf("List of empty store = %v, %v; want nothing", l, err)
	}
}

func testNames(t *testing.T, s storage.Store) {
	valid := []string{
		"a",
		"a\x00", // must not collide with "a"
		"with/slash/../dots",
		"nul\x00inside",
		"\xff\xfe not utf-8",
		"snapshot", "log", "meta", "docs", "quire", // the bolt layout's own key names
		"emoji 🦀 and ünïcode",
		" ",
		strings.Repeat("x", storage.MaxNameLen),
	}
	for i, name := range valid {
		mustAppend(t, s, name, upd("n", i))
	}
	for i, name := range valid {
		st := mustLoad(t, s, name)
		checkState(t, st, nil, [][]byte{upd("n", i)})
		if st.Meta.Name != name {
			t.Errorf("Meta.Name = %q, want %q", st.Meta.Name, name)
		}
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(valid) {
		t.Errorf("List has %d docs, want %d", len(list), len(valid))
	}
	for _, name := range valid {
		if err := s.Delete(ctx, name); err != nil {
			t.Errorf("Delete(%q): %v", name, err)
		}
	}

	invalid := map[string]string{
		"empty":    "",
		"too long": strings.Repeat("y", storage.MaxNameLen+1),
		"huge":     strings.Repeat("z", 1<<16),
	}
	for what, name := range invalid {
		ops := map[string]error{}
		_, ops["Load"] = s.Load(ctx, name)
		_, ops["Append"] = s.Append(ctx, name, []byte("x"))
		ops["Compact"] = s.Compact(ctx, name, []byte("x"), 0)
		_, ops["Stat"] = s.Stat(ctx, name)
		ops["Delete"] = s.Delete(ctx, name)
		for op, err := range ops {
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("%s with %s name: err = %v, want ErrInvalidName", op, what, err)
			}
		}
	}
	if l, _ := s.List(ctx); len(l) != 0 {
		t.Errorf("store not empty after deletes and invalid names: %d docs", len(l))
	}
}

func testAppendLoadOrder(t *testing.T, s storage.Store) {
	var want [][]byte
	batches := []int{1, 3, 1, 16, 0, 7}
	n := 0
	for _, size := range batches {
		var batch [][]byte
		for range size {
			batch = append(batch, upd("order", n))
			n++
		}
		m := mustAppend(t, s, "order", batch...)
		want = append(want, batch...)
		if m.LastSeq != uint64(len(want)) || m.LogCount != len(want) {
			t.Errorf("after %d updates: LastSeq %d LogCount %d", len(want), m.LastSeq, m.LogCount)
		}
		if st := mustStat(t, s, "order"); !sameMeta(st, m) {
			t.Errorf("Stat %+v != Append's Meta %+v", st, m)
		}
	}
	st := mustLoad(t, s, "order")
	checkState(t, st, nil, want)
	if st.Meta.SnapshotSeq != 0 || st.Meta.LastSeq != uint64(len(want)) {
		t.Errorf("meta = %+v", st.Meta)
	}
	// Other documents are independent logs with their own sequences.
	if m := mustAppend(t, s, "other", []byte("x")); m.LastSeq != 1 {
		t.Errorf("second doc starts at seq %d, want 1", m.LastSeq)
	}
	checkState(t, mustLoad(t, s, "order"), nil, want)
}

func testEmptyUpdate(t *testing.T, s storage.Store) {
	mustAppend(t, s, "e", []byte("first"))
	for _, batch := range [][][]byte{{nil}, {{}}, {[]byte("ok"), nil}, {[]byte("ok"), {}, []byte("ok")}} {
		if _, err := s.Append(ctx, "e", batch...); !errors.Is(err, storage.ErrEmptyUpdate) {
			t.Errorf("Append(%q): err = %v, want ErrEmptyUpdate", batch, err)
		}
	}
	// The batch is all or nothing.
	checkState(t, mustLoad(t, s, "e"), nil, [][]byte{[]byte("first")})
	if _, err := s.Append(ctx, "new", nil); !errors.Is(err, storage.ErrEmptyUpdate) {
		t.Errorf("err = %v, want ErrEmptyUpdate", err)
	}
	if _, err := s.Stat(ctx, "new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("rejected Append created the document: %v", err)
	}
}

func testCompact(t *testing.T, s storage.Store) {
	five := func(doc string) [][]byte {
		var u [][]byte
		for i := 1; i <= 5; i++ {
			u = append(u, upd(doc, i))
		}
		mustAppend(t, s, doc, u...)
		return u
	}
	tests := []struct {
		name string
		// setup stores a document and returns its log.
		setup   func(doc string) [][]byte
		snap    []byte
		through uint64
		wantErr error
		// wantSnap and wantLog describe the state after Compact (or the
		// unchanged state when it fails).
		wantSnap    []byte
		wantLog     func(log [][]byte) [][]byte
		wantSnapSeq uint64
		wantMissing bool
	}{
		{
			name: "whole log", setup: five, snap: []byte("S5"), through: 5,
			wantSnap: []byte("S5"), wantLog: func([][]byte) [][]byte { return nil }, wantSnapSeq: 5,
		},
		{
			name: "prefix of log", setup: five, snap: []byte("S3"), through: 3,
			wantSnap: []byte("S3"), wantLog: func(l [][]byte) [][]byte { return l[3:] }, wantSnapSeq: 3,
		},
		{
			name: "through 0 keeps log", setup: five, snap: []byte("S0"), through: 0,
			wantSnap: []byte("S0"), wantLog: func(l [][]byte) [][]byte { return l }, wantSnapSeq: 0,
		},
		{
			name: "through beyond last append", setup: five, snap: []byte("S6"), through: 6,
			wantErr: storage.ErrConflict, wantLog: func(l [][]byte) [][]byte { return l },
		},
		{
			name: "stale through below snapshot",
			setup: func(doc string) [][]byte {
				l := five(doc)
				mustCompact(t, s, doc, []byte("S4"), 4)
				return l[4:]
			},
			snap: []byte("S2"), through: 2,
			wantErr: storage.ErrConflict, wantSnap: []byte("S4"), wantLog: func(l [][]byte) [][]byte { return l }, wantSnapSeq: 4,
		},
		{
			name: "same through replaces snapshot",
			setup: func(doc string) [][]byte {
				l := five(doc)
				mustCompact(t, s, doc, []byte("S4"), 4)
				return l[4:]
			},
			snap: []byte("S4 again"), through: 4,
			wantSnap: []byte("S4 again"), wantLog: func(l [][]byte) [][]byte { return l }, wantSnapSeq: 4,
		},
		{
			name: "empty snapshot means none", setup: five, snap: nil, through: 5,
			wantSnap: nil, wantLog: func([][]byte) [][]byte { return nil }, wantSnapSeq: 5,
		},
		{
			name: "new document through 0 imports", setup: func(string) [][]byte { return nil },
			snap: []byte("imported"), through: 0,
			wantSnap: []byte("imported"), wantLog: func([][]byte) [][]byte { return nil },
		},
		{
			name: "new document through 1", setup: func(string) [][]byte { return nil },
			snap: []byte("x"), through: 1,
			wantErr: storage.ErrConflict, wantLog: func([][]byte) [][]byte { return nil }, wantMissing: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := "compact/" + tc.name
			log := tc.setup(doc)
			var before storage.Meta
			if !tc.wantMissing {
				before, _ = s.Stat(ctx, doc)
			}
			err := s.Compact(ctx, doc, tc.snap, tc.through)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Compact: err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMissing {
				if _, err := s.Stat(ctx, doc); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("failed Compact created the document: %v", err)
				}
				return
			}
			st := mustLoad(t, s, doc)
			checkState(t, st, tc.wantSnap, tc.wantLog(log))
			if st.Meta.SnapshotSeq != tc.wantSnapSeq {
				t.Errorf("SnapshotSeq = %d, want %d", st.Meta.SnapshotSeq, tc.wantSnapSeq)
			}
			if st.Meta.Created.IsZero() {
				t.Error("Created is zero after Compact")
			}
			if !before.Created.IsZero() && (!st.Meta.Updated.Equal(before.Updated) || st.Meta.LastSeq != before.LastSeq) {
				t.Errorf("Compact moved Updated or LastSeq: before %+v after %+v", before, st.Meta)
			}
			if !sameMeta(mustStat(t, s, doc), st.Meta) {
				t.Errorf("Stat disagrees with Load's Meta")
			}
		})
	}
}

// testAppendAfterCompact is the session's real pattern: capture through,
// keep appending while merging, then compact.
func testAppendAfterCompact(t *testing.T, s storage.Store) {
	const doc = "busy"
	var all [][]byte
	for i := range 5 {
		all = append(all, upd(doc, i))
	}
	m := mustAppend(t, s, doc, all...)
	through := m.LastSeq // captured before the merge starts
	late := [][]byte{upd(doc, 5), upd(doc, 6)}
	mustAppend(t, s, doc, late...)
	mustCompact(t, s, doc, []byte("merged 0-4"), through)

	st := mustLoad(t, s, doc)
	checkState(t, st, []byte("merged 0-4"), late)
	if st.Meta.SnapshotSeq != 5 || st.Meta.LastSeq != 7 {
		t.Errorf("meta = %+v, want SnapshotSeq 5 LastSeq 7", st.Meta)
	}
	// Sequences continue; they are never reused.
	if m := mustAppend(t, s, doc, upd(doc, 7)); m.LastSeq != 8 {
		t.Errorf("LastSeq after compaction = %d, want 8", m.LastSeq)
	}
	mustCompact(t, s, doc, []byte("merged 0-7"), 8)
	checkState(t, mustLoad(t, s, doc), []byte("merged 0-7"), nil)
	if m := mustAppend(t, s, doc, upd(doc, 8)); m.LastSeq != 9 || m.SnapshotSeq != 8 {
		t.Errorf("meta = %+v, want LastSeq 9 SnapshotSeq 8", m)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	mustAppend(t, s, "gone", upd("gone", 1), upd("gone", 2))
	mustCompact(t, s, "gone", []byte("snap"), 1)
	mustAppend(t, s, "kept", upd("kept", 1))
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after Delete: %v", err)
	}
	if st := mustLoad(t, s, "gone"); st.Snapshot != nil || st.Updates != nil || st.Meta.LastSeq != 0 {
		t.Errorf("Load after Delete = %+v", st)
	}
	if err := s.Delete(ctx, "gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if l, _ := s.List(ctx); len(l) != 1 || l[0].Name != "kept" {
		t.Errorf("List after Delete = %+v", l)
	}
	// A document written again under the name starts afresh.
	m := mustAppend(t, s, "gone", []byte("reborn"))
	if m.LastSeq != 1 || m.SnapshotSeq != 0 {
		t.Errorf("recreated doc meta = %+v", m)
	}
	checkState(t, mustLoad(t, s, "gone"), nil, [][]byte{[]byte("reborn")})
	checkState(t, mustLoad(t, s, "kept"), nil, [][]byte{upd("kept", 1)})
}

func testList(t *testing.T, s storage.Store) {
	names := []string{"b", "a", "a/b", "B", "\xff", "a\x00", "ab"}
	for i, n := range names {
		for j := 0; j <= i; j++ {
			mustAppend(t, s, n, upd(n, j))
		}
	}
	mustCompact(t, s, "ab", []byte("snapshot of ab"), 3)
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"B", "a", "a\x00", "a/b", "ab", "b", "\xff"} // bytewise
	if len(list) != len(want) {
		t.Fatalf("List has %d docs, want %d", len(list), len(want))
	}
	for i, m := range list {
		if m.Name != want[i] {
			t.Errorf("List[%d] = %q, want %q", i, m.Name, want[i])
		}
		if st := mustStat(t, s, m.Name); !sameMeta(st, m) {
			t.Errorf("List entry %+v != Stat %+v", m, st)
		}
		checkMetaInvariants(t, m)
	}
}

func testStatSizes(t *testing.T, s storage.Store) {
	const doc = "sizes"
	m := mustAppend(t, s, doc, make100(1), make100(2), []byte("xyz"))
	if m.LogBytes != 203 || m.SnapshotBytes != 0 || m.Bytes != 203 || m.LogCount != 3 {
		t.Errorf("after append: %+v", m)
	}
	mustCompact(t, s, doc, bytes.Repeat([]byte("s"), 1000), 2)
	m = mustStat(t, s, doc)
	if m.LogBytes != 3 || m.SnapshotBytes != 1000 || m.Bytes != 1003 || m.LogCount != 1 {
		t.Errorf("after compact: %+v", m)
	}
	mustCompact(t, s, doc, []byte("tiny"), 3)
	m = mustStat(t, s, doc)
	if m.LogBytes != 0 || m.SnapshotBytes != 4 || m.Bytes != 4 || m.LogCount != 0 {
		t.Errorf("after second compact: %+v", m)
	}
}

func make100(b byte) []byte { return bytes.Repeat([]byte{b}, 100) }

func testTimes(t *testing.T, s storage.Store) {
	start := time.Now()
	m1 := mustAppend(t, s, "t", []byte("1"))
	if m1.Created.IsZero() || !m1.Created.Equal(m1.Updated) {
		t.Errorf("first append: Created %v Updated %v", m1.Created, m1.Updated)
	}
	if m1.Created.Before(start.Add(-time.Second)) || m1.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("Created %v is not now (%v)", m1.Created, start)
	}
	time.Sleep(2 * time.Millisecond)
	m2 := mustAppend(t, s, "t", []byte("2"))
	if !m2.Created.Equal(m1.Created) || !m2.Updated.After(m1.Updated) {
		t.Errorf("second append: Created %v->%v, Updated %v->%v", m1.Created, m2.Created, m1.Updated, m2.Updated)
	}
}

func testConcurrentAppends(t *testing.T, s storage.Store) {
	const (
		docs       = 4
		writers    = 16 // per store; writer w writes doc w%docs
		perWriter  = 40
		maxBatch   = 5
		readerDocs = docs
	)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Readers run throughout, so the race detector sees reads against writes.
	var readers sync.WaitGroup
	for r := range readerDocs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			doc := fmt.Sprintf("c%d", r)
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := s.Load(ctx, doc)
				if err != nil {
					t.Error(err)
					return
				}
				if len(st.Updates) != st.Meta.LogCount {
					t.Errorf("Load: %d updates, Meta says %d", len(st.Updates), st.Meta.LogCount)
					return
				}
				if _, err := s.List(ctx); err != nil {
					t.Error(err)
					return
				}
				// Overlap with writers is the point, not read volume.
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := fmt.Sprintf("c%d", w%docs)
			for i := 0; i < perWriter; {
				n := min(1+(i+w)%maxBatch, perWriter-i)
				batch := make([][]byte, n)
				for j := range batch {
					batch[j] = []byte(fmt.Sprintf("w%d/%d", w, i+j))
				}
				if _, err := s.Append(ctx, doc, batch...); err != nil {
					t.Error(err)
					return
				}
				i += n
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if t.Failed() {
		return
	}
	for d := range docs {
		doc := fmt.Sprintf("c%d", d)
		st := mustLoad(t, s, doc)
		wantN := writers / docs * perWriter
		if len(st.Updates) != wantN || st.Meta.LastSeq != uint64(wantN) {
			t.Errorf("%s: %d updates, LastSeq %d; want %d", doc, len(st.Updates), st.Meta.LastSeq, wantN)
		}
		// Each writer's updates appear exactly once and in its order.
		next := map[int]int{}
		for _, u := range st.Updates {
			var w, i int
			if _, err := fmt.Sscanf(string(u), "w%d/%d", &w, &i); err != nil {
				t.Fatalf("%s: bad update %q", doc, u)
			}
			if w%docs != d || i != next[w] {
				t.Fatalf("%s: update %q out of order (want w%d/%d)", doc, u, w, next[w])
			}
			next[w]++
		}
	}
}

func testLargeValues(t *testing.T, s storage.Store) {
	big := func(seed byte) []byte {
		b := make([]byte, 4<<20)
		for i := range b {
			b[i] = seed + byte(i*7) + byte(i>>12)
		}
		return b
	}
	u1, u2, snap := big(1), big(2), big(3)
	small := []byte("small")
	mustAppend(t, s, "big", u1, small, u2)
	checkState(t, mustLoad(t, s, "big"), nil, [][]byte{u1, small, u2})
	mustCompact(t, s, "big", snap, 2)
	st := mustLoad(t, s, "big")
	checkState(t, st, snap, [][]byte{u2})
	if st.Meta.Bytes != 8<<20 {
		t.Errorf("Bytes = %d, want %d", st.Meta.Bytes, 8<<20)
	}
}

func testBufferReuse(t *testing.T, s storage.Store) {
	buf := []byte("aaaa")
	mustAppend(t, s, "reuse", buf)
	copy(buf, "bbbb")
	mustAppend(t, s, "reuse", buf)
	copy(buf, "cccc")
	batch := [][]byte{buf[:2], buf[2:]}
	mustAppend(t, s, "reuse", batch...)
	copy(buf, "dddd")

	snap := []byte("snap")
	mustAppend(t, s, "reuse-snap", []byte("u"))
	mustCompact(t, s, "reuse-snap", snap, 1)
	copy(snap, "XXXX")

	want := [][]byte{[]byte("aaaa"), []byte("bbbb"), []byte("cc"), []byte("cc")}
	st := mustLoad(t, s, "reuse")
	checkState(t, st, nil, want)
	// What Load returns belongs to the caller.
	for _, u := range st.Updates {
		for i := range u {
			u[i] = 'Z'
		}
	}
	checkState(t, mustLoad(t, s, "reuse"), nil, want)
	st = mustLoad(t, s, "reuse-snap")
	checkState(t, st, []byte("snap"), nil)
	copy(st.Snapshot, "YYYY")
	checkState(t, mustLoad(t, s, "reuse-snap"), []byte("snap"), nil)
}

func testCanceledContext(t *testing.T, s storage.Store) {
	mustAppend(t, s, "ctx", []byte("1"))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ops := map[string]error{}
	_, ops["Load"] = s.Load(cctx, "ctx")
	_, ops["Append"] = s.Append(cctx, "ctx", []byte("2"))
	ops["Compact"] = s.Compact(cctx, "ctx", []byte("s"), 1)
	_, ops["List"] = s.List(cctx)
	_, ops["Stat"] = s.Stat(cctx, "ctx")
	ops["Delete"] = s.Delete(cctx, "ctx")
	for op, err := range ops {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with canceled context: err = %v, want context.Canceled", op, err)
		}
	}
	checkState(t, mustLoad(t, s, "ctx"), nil, [][]byte{[]byte("1")})
}

func testClosed(t *testing.T, s storage.Store) {
	mustAppend(t, s, "x", []byte("1"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ops := map[string]error{}
	_, ops["Load"] = s.Load(ctx, "x")
	_, ops["Append"] = s.Append(ctx, "x", []byte("2"))
	_, ops["Append nothing"] = s.Append(ctx, "x")
	ops["Compact"] = s.Compact(ctx, "x", []byte("s"), 1)
	_, ops["List"] = s.List(ctx)
	_, ops["Stat"] = s.Stat(ctx, "x")
	ops["Delete"] = s.Delete(ctx, "x")
	for op, err := range ops {
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", op, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
