package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/quirehq/quire/storage"
)

var ctx = context.Background()

// Child processes: the crash and lock tests re-run this test binary with
// childEnv set, and TestMain hands control to the named child instead of
// running tests.
const (
	childEnv     = "QUIRE_STORAGE_TEST_CHILD"
	childPathEnv = "QUIRE_STORAGE_TEST_PATH"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "crash":
		crashChild(os.Getenv(childPathEnv))
	case "lock":
		lockChild(os.Getenv(childPathEnv))
	default:
		fmt.Fprintln(os.Stderr, "unknown child", os.Getenv(childEnv))
		os.Exit(2)
	}
	os.Exit(0)
}

func child(t *testing.T, kind, path string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+kind, childPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

func openBolt(t *testing.T, path string, opts ...storage.BoltOption) *storage.Bolt {
	t.Helper()
	s, err := storage.OpenBolt(path, opts...)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBoltReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "quire.db")
	s := openBolt(t, path)
	names := []string{"plain", "nul\x00byte", "\xff\xfe", strings.Repeat("n", storage.MaxNameLen)}
	for i, n := range names {
		for j := range i + 3 {
			if _, err := s.Append(ctx, n, []byte(fmt.Sprintf("%s:%d", n, j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Compact(ctx, "plain", []byte("plain snapshot"), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "\xff\xfe"); err != nil {
		t.Fatal(err)
	}
	before := map[string]storage.State{}
	for _, n := range names {
		st, err := s.Load(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		before[n] = st
	}
	listBefore, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openBolt(t, path)
	for _, n := range names {
		st, err := s.Load(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if !sameState(st, before[n]) {
			t.Errorf("%q after reopen = %+v, before %+v", n, st, before[n])
		}
	}
	listAfter, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(listAfter) != fmt.Sprint(listBefore) {
		t.Errorf("List after reopen = %v, before %v", listAfter, listBefore)
	}
	// Sequences carry on from where they were.
	m, err := s.Append(ctx, "plain", []byte("more"))
	if err != nil || m.LastSeq != 4 || m.SnapshotSeq != 2 {
		t.Errorf("append after reopen: %+v, %v", m, err)
	}
}

func sameState(a, b storage.State) bool {
	if !bytes.Equal(a.Snapshot, b.Snapshot) || len(a.Updates) != len(b.Updates) {
		return false
	}
	for i := range a.Updates {
		if !bytes.Equal(a.Updates[i], b.Updates[i]) {
			return false
		}
	}
	am, bm := a.Meta, b.Meta
	return am.Name == bm.Name && am.Bytes == bm.Bytes && am.LogCount == bm.LogCount &&
		am.LastSeq == bm.LastSeq && am.SnapshotSeq == bm.SnapshotSeq &&
		am.Created.Equal(bm.Created) && am.Updated.Equal(bm.Updated)
}

func TestBoltFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "quire.db")
	openBolt(t, path)
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		// The umask can only remove bits, so more than want is a bug.
		if fi.Mode()&^want != 0 {
			t.Errorf("%s: mode %v, want at most %v", p, fi.Mode(), want)
		}
	}
}

func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quire.db")
	s := openBolt(t, path)

	// Another Store in this process: flock locks belong to the open file,
	// so this is refused just like another process.
	start := time.Now()
	_, err := storage.OpenBolt(path, storage.WithLockTimeout(100*time.Millisecond))
	if !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second open took %v, want about the lock timeout", d)
	}
	t.Logf("second open: %v", err)

	// Another process, which is the case the timeout exists for.
	out, err := child(t, "lock", path).Output()
	if err != nil {
		t.Fatalf("lock child: %v", err)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "locked: ") {
		t.Errorf("lock child said %q, want locked", got)
	}

	// Once released, the file opens again.
	s.Close()
	openBolt(t, path, storage.WithLockTimeout(100*time.Millisecond))
}

func lockChild(path string) {
	start := time.Now()
	s, err := storage.OpenBolt(path, storage.WithLockTimeout(200*time.Millisecond))
	switch {
	case errors.Is(err, storage.ErrLocked) && time.Since(start) < 3*time.Second:
		fmt.Println("locked:", err)
	case err != nil:
		fmt.Println("other error:", err)
	default:
		s.Close()
		fmt.Println("opened")
	}
}

func TestBoltCorruptFile(t *testing.T) {
	valid := func(t *testing.T, path string) []byte {
		s, err := storage.OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			s.Append(ctx, fmt.Sprintf("doc%d", i%6), bytes.Repeat([]byte{byte(i)}, 300))
		}
		s.Compact(ctx, "doc0", bytes.Repeat([]byte("s"), 20000), 5)
		s.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	garbage := func(n int) []byte {
		b := make([]byte, n)
		rand.New(rand.NewSource(1)).Read(b)
		return b
	}
	tests := []struct {
		name string
		// file returns the bytes to write at path, given a valid data
		// file's bytes made there first.
		file    func(valid []byte) []byte
		wantErr error // nil: any error
	}{
		{"text", func([]byte) []byte { return []byte("hello, I am not a database\n") }, storage.ErrCorrupt},
		{"random 64 KiB", func([]byte) []byte { return garbage(64 << 10) }, storage.ErrCorrupt},
		{"zeroed header", func(v []byte) []byte { copy(v, make([]byte, 8192)); return v }, storage.ErrCorrupt},
		{"garbage after header", func(v []byte) []byte { copy(v[8192:], garbage(len(v)-8192)); return v }, storage.ErrCorrupt},
		// Pages past the end fault in the mapping (SIGBUS) unless the
		// store turns that into a panic it can recover.
		{"truncated to a third", func(v []byte) []byte { return v[:len(v)/3] }, storage.ErrCorrupt},
		{"truncated to half", func(v []byte) []byte { return v[:len(v)/2] }, storage.ErrCorrupt},
		{"truncated to 3 pages", func(v []byte) []byte { return v[:3*4096] }, storage.ErrCorrupt},
		{"truncated mid-page", func(v []byte) []byte { return v[:len(v)/2+100] }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "quire.db")
			b := tc.file(valid(t, path))
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			err := openAndRead(path)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			t.Logf("%v", err)
		})
	}

	t.Run("foreign bolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone else's"))
			return err
		})
		db.Close()
		if _, err := storage.OpenBolt(path); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})

	t.Run("directory", func(t *testing.T) {
		if _, err := storage.OpenBolt(t.TempDir()); err == nil {
			t.Fatal("opened a directory")
		}
	})

	// Damage one page at a time: wherever it lands, the store must answer
	// with an error or with data, never a panic, and a damaged tree page
	// must surface as ErrCorrupt from a transaction, not only from Open.
	t.Run("each page", func(t *testing.T) {
		dir := t.TempDir()
		v := valid(t, filepath.Join(dir, "quire.db"))
		const page = 4096
		var detected int
		for off := 2 * page; off+page <= len(v); off += page {
			b := bytes.Clone(v)
			copy(b[off:off+page], garbage(page))
			// A fresh file each time: when bbolt panics inside Open, the
			// file stays mapped, and so locked, for the life of the process.
			path := filepath.Join(dir, fmt.Sprintf("page%d.db", off/page))
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := storage.OpenBolt(path)
			if err != nil {
				continue
			}
			if _, err := s.List(ctx); errors.Is(err, storage.ErrCorrupt) {
				detected++
			}
			for i := range 6 {
				s.Load(ctx, fmt.Sprintf("doc%d", i))
			}
			s.Close()
		}
		if detected == 0 {
			t.Error("no damaged page was reported by List")
		}
	})

	// Cut the file at every page and mid-page: pages past the end fault in
	// the mapping, which must come back as an error, not kill the process.
	t.Run("each truncation", func(t *testing.T) {
		dir := t.TempDir()
		v := valid(t, filepath.Join(dir, "quire.db"))
		for n := 0; n < len(v); n += 2048 {
			path := filepath.Join(dir, fmt.Sprintf("cut%d.db", n))
			if err := os.WriteFile(path, v[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			openAndRead(path)
		}
	})
}

// TestBoltGroupCommitIsolation: Appends that share a transaction must not
// share a failure. One document's meta record is damaged; Appends to it
// fail with ErrCorrupt while Appends to other documents, committed in the
// same groups, all succeed.
func TestBoltGroupCommitIsolation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quire.db")
	s := openBolt(t, path)
	if _, err := s.Append(ctx, "bad", []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("docs")).Bucket([]byte("bad")).Put([]byte("meta"), []byte("garbage"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = openBolt(t, path)
	const writers, appends = 8, 30
	errs := make(chan error, writers+1)
	for w := range writers {
		go func() {
			doc := fmt.Sprintf("good%d", w)
			for i := range appends {
				if _, err := s.Append(ctx, doc, []byte(fmt.Sprint(i))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for range appends {
			if _, err := s.Append(ctx, "bad", []byte("y")); !errors.Is(err, storage.ErrCorrupt) {
				errs <- fmt.Errorf("append to damaged doc: err = %v, want ErrCorrupt", err)
				return
			}
		}
		errs <- nil
	}()
	for range writers + 1 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for w := range writers {
		m, err := s.Stat(ctx, fmt.Sprintf("good%d", w))
		if err != nil || m.LastSeq != appends {
			t.Errorf("good%d: %+v, %v", w, m, err)
		}
	}
}

// openAndRead opens path and reads everything in it, returning the first
// error.
func openAndRead(path string) error {
	s, err := storage.OpenBolt(path)
	if err != nil {
		return err
	}
	defer s.Close()
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	for _, m := range list {
		if _, err := s.Load(ctx, m.Name); err != nil {
			return err
		}
	}
	return nil
}

// The crash test's documents hold updates numbered 0, 1, 2, ...; the
// snapshot "S<n>" stands for updates 0 to n-1 merged, so the stored state
// of a document is correct exactly when snapshot and log together number
// 0..k-1 without gap or repeat.
var crashDocs = []string{"crash/a", "crash/b"}

func crashUpdate(i int) []byte {
	// Varied sizes so commits touch different numbers of pages.
	return append([]byte(fmt.Sprintf("u%d;", i)), bytes.Repeat([]byte{'p'}, (i*37)%900)...)
}

func crashSnapshot(n int) []byte {
	return append([]byte(fmt.Sprintf("S%d;", n)), bytes.Repeat([]byte{'s'}, 5000+n)...)
}

// crashCount checks a document's state and returns how many updates it
// holds.
func crashCount(st storage.State) (int, error) {
	n := 0
	if st.Snapshot != nil {
		head, _, _ := bytes.Cut(st.Snapshot, []byte(";"))
		v, err := strconv.Atoi(strings.TrimPrefix(string(head), "S"))
		if err != nil || !bytes.Equal(st.Snapshot, crashSnapshot(v)) {
			return 0, fmt.Errorf("bad snapshot %.20q", st.Snapshot)
		}
		n = v
	}
	for _, u := range st.Updates {
		if !bytes.Equal(u, crashUpdate(n)) {
			return 0, fmt.Errorf("update %.20q where u%d expected", u, n)
		}
		n++
	}
	return n, nil
}

// crashChild appends and compacts until killed, printing "ack DOC N" once
// updates 0..N-1 of DOC are acknowledged by Append.
func crashChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(1)
	}
	s, err := storage.OpenBolt(path, storage.WithLockTimeout(10*time.Second))
	if err != nil {
		fail(err)
	}
	next := map[string]int{}
	for _, d := range crashDocs {
		st, err := s.Load(ctx, d)
		if err != nil {
			fail(err)
		}
		if next[d], err = crashCount(st); err != nil {
			fail(err)
		}
	}
	appends := map[string]int{}
	for i := 0; ; i++ {
		d := crashDocs[i%len(crashDocs)]
		appends[d]++
		batch := make([][]byte, 1+i%4)
		for j := range batch {
			batch[j] = crashUpdate(next[d] + j)
		}
		m, err := s.Append(ctx, d, batch...)
		if err != nil {
			fail(err)
		}
		next[d] += len(batch)
		fmt.Printf("ack %s %d\n", d, next[d])
		if appends[d]%5 == 0 {
			// Compact as a session would, leaving the last batch in the log
			// now and then so partial compactions are killed too.
			st, err := s.Load(ctx, d)
			if err != nil {
				fail(err)
			}
			through, n := m.LastSeq, next[d]
			if appends[d]%10 == 0 {
				through -= uint64(len(batch))
				n -= len(batch)
			}
			if err := s.Compact(ctx, d, crashSnapshot(n), through); err != nil {
				fail(fmt.Errorf("compact %s through %d (state %+v): %w", d, through, st.Meta, err))
			}
		}
	}
}

// TestBoltCrashDurability kills a writer with SIGKILL at arbitrary points
// and checks that every update it had acknowledged is there, several times
// over the same file. A killed process leaves its writes in the page cache,
// so this tests bbolt's commit protocol and our use of it, not the disk's
// flush; fsync (on by default) is what carries the promise past a power cut.
func TestBoltCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "quire.db")
	acked := map[string]int{}
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	for round := range 4 {
		cmd := child(t, "crash", path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 50 + r.Intn(250)
		sc := bufio.NewScanner(stdout)
		lines, killed := 0, false
		for sc.Scan() {
			var doc string
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "ack %s %d", &doc, &n); err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			acked[doc] = n
			if lines++; lines == killAfter {
				cmd.Process.Kill() // SIGKILL: no deferred code, no Close
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended before the kill: %v", round, err)
		}

		s, err := storage.OpenBolt(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		for _, d := range crashDocs {
			st, err := s.Load(ctx, d)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			n, err := crashCount(st)
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, d, err)
			}
			if n < acked[d] {
				t.Errorf("round %d: %s holds %d updates, %d were acknowledged", round, d, n, acked[d])
			}
			t.Logf("round %d: %s acked %d, found %d (snapshot through seq %d, log %d)", round, d, acked[d], n, st.Meta.SnapshotSeq, st.Meta.LogCount)
			acked[d] = n // an unacknowledged update that made it is fine, and now counts
		}
		s.Close()
	}
}

// TestBoltFormat1: a file written in format 1 (the snapshot a value beside
// meta) is read as it is, marked format 2 when opened, and each snapshot
// moves to its own bucket at the document's next compaction. A format this
// build does not know is refused.
func TestBoltFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quire.db")
	s, err := storage.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Append(ctx, "doc", []byte("a"), []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, "doc", []byte("SNAP"), m.LastSeq); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "doc", []byte("c")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	raw := func(fn func(tx *bolt.Tx) error) {
		t.Helper()
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	// Rewrite it as format 1 wrote it.
	raw(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("quire")).Put([]byte("format"), []byte("1")); err != nil {
			return err
		}
		b := tx.Bucket([]byte("docs")).Bucket([]byte("doc"))
		snap := bytes.Clone(b.Bucket([]byte("snapshot")).Get([]byte("v")))
		if err := b.DeleteBucket([]byte("snapshot")); err != nil {
			return err
		}
		return b.Put([]byte("snapshot"), snap)
	})

	s, err = storage.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Load(ctx, "doc")
	if err != nil || string(st.Snapshot) != "SNAP" || len(st.Updates) != 1 || string(st.Updates[0]) != "c" || st.Meta.SnapshotBytes != 4 {
		t.Fatalf("format 1 file loads as %q %q %+v, %v", st.Snapshot, st.Updates, st.Meta, err)
	}
	m, err = s.Append(ctx, "doc", []byte("d"))
	if err != nil || m.SnapshotBytes != 4 || m.LogCount != 2 {
		t.Fatalf("append to a format 1 document: %+v, %v", m, err)
	}
	if err := s.Compact(ctx, "doc", []byte("NEW"), m.LastSeq); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw(func(tx *bolt.Tx) error {
		if f := tx.Bucket([]byte("quire")).Get([]byte("format")); string(f) != "2" {
			t.Errorf("format %q after opening, want 2", f)
		}
		b := tx.Bucket([]byte("docs")).Bucket([]byte("doc"))
		if v := b.Get([]byte("snapshot")); v != nil {
			t.Errorf("the format 1 snapshot value is still there: %q", v)
		}
		if sb := b.Bucket([]byte("snapshot")); sb == nil || string(sb.Get([]byte("v"))) != "NEW" {
			t.Errorf("the snapshot is not in its bucket after compaction")
		}
		return tx.Bucket([]byte("quire")).Put([]byte("format"), []byte("3"))
	})
	if s, err := storage.OpenBolt(path); !errors.Is(err, storage.ErrCorrupt) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("opening format 3: %v, want ErrCorrupt", err)
	}
}
