package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The layout of a data file, format 2:
//
//	quire/              format marker, so a foreign bolt file is refused
//	  format  = "2"
//	docs/               one nested bucket per document, keyed by its name
//	  <name>/
//	    meta      = diskMeta (always present)
//	    snapshot/ = "v" -> bytes (absent when there is none)
//	    log/      = big-endian uint64 sequence -> update
//
// The snapshot has a bucket of its own because bbolt writes a leaf node
// whole: in format 1 it was a value beside meta, so every Append, which
// rewrites meta, wrote the whole snapshot again (2.3 ms and 1.1 MB per
// Append under a 1 MiB snapshot, against 0.8 ms and 17 KB without:
// BenchmarkAppendBigSnapshot). Format 1 files are read as they are; opening
// one for writing marks it format 2, so that an older quire refuses it
// instead of missing its snapshots, and each document's snapshot moves to
// its bucket at its next compaction.
//
// Invariants, checked when read: meta and log exist in every document
// bucket, and log's keys are exactly SnapshotSeq+1 .. LastSeq. Per-document
// buckets make Delete one DeleteBucket and keep a document's pages together;
// big-endian keys make bbolt's byte order the append order.
var (
	bucketInfo   = []byte("quire")
	bucketDocs   = []byte("docs")
	bucketLog    = []byte("log")
	keyFormat    = []byte("format")
	keyMeta      = []byte("meta")
	keySnapshot  = []byte("snapshot")
	formatV1     = []byte("1")
	formatV2     = []byte("2")
	keySnapData  = []byte("v")
	diskMetaV1   = byte(1)
	diskMetaSize = 1 + 5*8
)

// DefaultLockTimeout is how long OpenBolt waits for another process to
// release the data file: long enough to ride out a restart in which the old
// process is still exiting, short enough that a second server started by
// mistake says so at once instead of hanging.
const DefaultLockTimeout = time.Second

// Bolt is the Store kept in one bbolt file. Open it with OpenBolt.
type Bolt struct {
	// mu orders operations against Close: operations hold it shared for
	// their whole transaction, so Close never pulls the file from under
	// one and an operation after Close sees closed instead of a bbolt
	// error.
	mu     sync.RWMutex
	closed bool
	db     *bolt.DB
	path   string

	appends    chan *appendReq // to writer; closed by Close
	writerDone chan struct{}
}

var _ Store = (*Bolt)(nil)

type boltConfig struct {
	lockTimeout time.Duration
	noSync      bool
}

// BoltOption adjusts OpenBolt.
type BoltOption func(*boltConfig)

// WithLockTimeout sets how long OpenBolt waits for the file lock before it
// fails with ErrLocked (default DefaultLockTimeout). Zero or less means the
// default: waiting forever is never what a server wants.
func WithLockTimeout(d time.Duration) BoltOption {
	return func(c *boltConfig) {
		if d > 0 {
			c.lockTimeout = d
		}
	}
}

// WithNoSync skips fsync on commit. A crash of the machine (not just the
// process) can then lose acknowledged appends or corrupt the file, which
// breaks the promise Append makes, so it is only for tests, benchmarks and
// bulk imports that can be redone.
func WithNoSync() BoltOption {
	return func(c *boltConfig) { c.noSync = true }
}

// OpenBolt opens (creating if needed) the data file at path, creating its
// directory with mode 0700 and the file with mode 0600, since documents
// are private to the server. It fails with ErrLocked if another process
// holds the file, and with ErrCorrupt if the file is not a quire data file
// or its bbolt headers are damaged. Damage deeper in the file shows up as
// ErrCorrupt from the operation that reads it.
//
// When bbolt panics while opening a damaged file (it does on a bad freelist
// page), OpenBolt returns ErrCorrupt, but bbolt offers no way to unmap what
// it had mapped, and the mapping keeps the file locked until this process
// exits. Treat ErrCorrupt from OpenBolt as fatal for that path.
func OpenBolt(path string, opts ...BoltOption) (*Bolt, error) {
	cfg := boltConfig{lockTimeout: DefaultLockTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	db, err := openDB(path, cfg)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("storage: open %s: %w (waited %v; is another quire running on it?)", path, ErrLocked, cfg.lockTimeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("storage: open %s: %w: %w", path, ErrCorrupt, err)
	case err != nil:
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	s := &Bolt{db: db, path: path}
	if err := s.initFormat(); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	s.appends = make(chan *appendReq, maxGroupRequests)
	s.writerDone = make(chan struct{})
	go s.writer()
	return s, nil
}

// openDB is bolt.Open made safe for damaged files. bbolt can panic while
// it loads the freelist, or fault on a truncated file (see view); both
// become ErrCorrupt, and the file we can reach is closed.
func openDB(path string, cfg boltConfig) (_ *bolt.DB, err error) {
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				file.Close()
			}
			err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout: cfg.lockTimeout,
		NoSync:  cfg.noSync,
		// Compaction frees a log's pages in bulk; the hashmap freelist
		// keeps allocation fast as the file fragments.
		FreelistType: bolt.FreelistMapType,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
}

// initFormat accepts a file of our format, or an empty one which it
// formats, and refuses any other bolt file rather than write into it.
func (s *Bolt) initFormat() error {
	var ours, format1 bool
	err := s.view(func(tx *bolt.Tx) error {
		info := tx.Bucket(bucketInfo)
		if info == nil {
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("%w: bolt file without quire format marker", ErrCorrupt)
			}
			return nil
		}
		switch f := info.Get(keyFormat); {
		case bytes.Equal(f, formatV1):
			format1 = true
		case !bytes.Equal(f, formatV2):
			return fmt.Errorf("%w: unknown format %q", ErrCorrupt, f)
		}
		if tx.Bucket(bucketDocs) == nil {
			return fmt.Errorf("%w: docs bucket missing", ErrCorrupt)
		}
		ours = true
		return nil
	})
	if err != nil {
		return err
	}
	if ours {
		if !format1 {
			return nil
		}
		return s.update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketInfo).Put(keyFormat, formatV2)
		})
	}
	return s.update(func(tx *bolt.Tx) error {
		info, err := tx.CreateBucket(bucketInfo)
		if err != nil {
			return err
		}
		if err := info.Put(keyFormat, formatV2); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketDocs)
		return err
	})
}

// view and update run bbolt transactions, turning a bbolt panic (which a
// damaged page can cause) into ErrCorrupt: one bad document must not take
// the server down. bbolt rolls the transaction back in its own defer.
//
// Both also turn a memory fault into a panic. A page that points past the
// end of a truncated file makes bbolt read beyond the mapping's backing
// store, and the SIGBUS that follows would otherwise kill the process
// outright: no recover can catch it.
func (s *Bolt) view(fn func(*bolt.Tx) error) (err error) {
	defer recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return s.db.View(fn)
}

func (s *Bolt) update(fn func(*bolt.Tx) error) (err error) {
	defer recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return s.db.Update(fn)
}

func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, r)
	}
}

// begin takes the shared lock and performs the checks common to every
// per-document operation. On success the caller must s.mu.RUnlock.
func (s *Bolt) begin(ctx context.Context, doc string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkName(doc); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// diskMeta is what the meta key holds. Counts that can be derived cheaply
// (snapshot size, log count) are not stored, so they cannot disagree.
type diskMeta struct {
	created, updated     int64 // Unix nanoseconds
	lastSeq, snapshotSeq uint64
	logBytes             uint64
}

func (m diskMeta) encode() []byte {
	b := make([]byte, diskMetaSize)
	b[0] = diskMetaV1
	binary.BigEndian.PutUint64(b[1:], uint64(m.created))
	binary.BigEndian.PutUint64(b[9:], uint64(m.updated))
	binary.BigEndian.PutUint64(b[17:], m.lastSeq)
	binary.BigEndian.PutUint64(b[25:], m.snapshotSeq)
	binary.BigEndian.PutUint64(b[33:], m.logBytes)
	return b
}

func readMeta(b *bolt.Bucket) (diskMeta, error) {
	v := b.Get(keyMeta)
	if len(v) != diskMetaSize || v[0] != diskMetaV1 {
		return diskMeta{}, fmt.Errorf("%w: bad meta record (%d bytes)", ErrCorrupt, len(v))
	}
	m := diskMeta{
		created:     int64(binary.BigEndian.Uint64(v[1:])),
		updated:     int64(binary.BigEndian.Uint64(v[9:])),
		lastSeq:     binary.BigEndian.Uint64(v[17:]),
		snapshotSeq: binary.BigEndian.Uint64(v[25:]),
		logBytes:    binary.BigEndian.Uint64(v[33:]),
	}
	if m.snapshotSeq > m.lastSeq {
		return diskMeta{}, fmt.Errorf("%w: snapshot seq %d after last seq %d", ErrCorrupt, m.snapshotSeq, m.lastSeq)
	}
	if b.Bucket(bucketLog) == nil {
		return diskMeta{}, fmt.Errorf("%w: log bucket missing", ErrCorrupt)
	}
	return m, nil
}

// snapshotOf returns the snapshot of document bucket b, nil for none; in
// format 2 it is in a bucket of its own, in format 1 a value of b.
func snapshotOf(b *bolt.Bucket) []byte {
	if sb := b.Bucket(keySnapshot); sb != nil {
		return sb.Get(keySnapData)
	}
	return b.Get(keySnapshot)
}

// putSnapshot replaces the snapshot of document bucket b (by none if snap
// is empty), in format 2's place.
func putSnapshot(b *bolt.Bucket, snap []byte) error {
	sb := b.Bucket(keySnapshot)
	if sb == nil {
		// Format 1's value, if any; Delete of a missing key is no error.
		if err := b.Delete(keySnapshot); err != nil {
			return err
		}
	}
	if len(snap) == 0 {
		if sb == nil {
			return nil
		}
		return b.DeleteBucket(keySnapshot)
	}
	if sb == nil {
		var err error
		if sb, err = b.CreateBucket(keySnapshot); err != nil {
			return err
		}
	}
	return sb.Put(keySnapData, snap)
}

func (m diskMeta) meta(name string, b *bolt.Bucket) Meta {
	snap := int64(len(snapshotOf(b)))
	return Meta{
		Name:          name,
		Bytes:         snap + int64(m.logBytes),
		SnapshotBytes: snap,
		LogBytes:      int64(m.logBytes),
		LogCount:      int(m.lastSeq - m.snapshotSeq),
		LastSeq:       m.lastSeq,
		SnapshotSeq:   m.snapshotSeq,
		Created:       time.Unix(0, m.created).UTC(),
		Updated:       time.Unix(0, m.updated).UTC(),
	}
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func docsBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	if b := tx.Bucket(bucketDocs); b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("%w: docs bucket missing", ErrCorrupt)
}

// Load implements Store.
func (s *Bolt) Load(ctx context.Context, doc string) (State, error) {
	if err := s.begin(ctx, doc); err != nil {
		return State{}, opErr("load", doc, err)
	}
	defer s.mu.RUnlock()
	st := State{Meta: Meta{Name: doc}}
	err := s.view(func(tx *bolt.Tx) error {
		docs, err := docsBucket(tx)
		if err != nil {
			return err
		}
		b := docs.Bucket([]byte(doc))
		if b == nil {
			return nil
		}
		m, err := readMeta(b)
		if err != nil {
			return err
		}
		st.Meta = m.meta(doc, b)
		st.Snapshot = clone(snapshotOf(b))
		if st.Meta.LogCount > 0 {
			st.Updates = make([][]byte, 0, st.Meta.LogCount)
		}
		// Values point into the mmap, valid only inside the transaction:
		// copy each one out, and check the key sequence while at it.
		want := m.snapshotSeq + 1
		c := b.Bucket(bucketLog).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 || binary.BigEndian.Uint64(k) != want || want > m.lastSeq {
				return fmt.Errorf("%w: log key %x where seq %d expected", ErrCorrupt, k, want)
			}
			st.Updates = append(st.Updates, clone(v))
			want++
		}
		if want != m.lastSeq+1 {
			return fmt.Errorf("%w: log ends at seq %d, meta says %d", ErrCorrupt, want-1, m.lastSeq)
		}
		return nil
	})
	if err != nil {
		return State{}, opErr("load", doc, err)
	}
	return st, nil
}

// Append implements Store. Appends that arrive while a commit is under way
// are committed together in the next transaction (see writer), so each
// caller waits for at most two fsyncs however many documents are busy.
func (s *Bolt) Append(ctx context.Context, doc string, updates ...[]byte) (Meta, error) {
	if err := checkUpdates(updates); err != nil {
		return Meta{}, opErr("append", doc, err)
	}
	if len(updates) == 0 {
		m, err := s.Stat(ctx, doc)
		if errors.Is(err, ErrNotFound) {
			return Meta{Name: doc}, nil
		}
		return m, err
	}
	if err := s.begin(ctx, doc); err != nil {
		return Meta{}, opErr("append", doc, err)
	}
	defer s.mu.RUnlock()
	// Once queued the request is not abandoned, even if ctx ends: the
	// commit is short, and a caller told "failed" about an update that was
	// then stored would be worse off than one kept waiting.
	r := &appendReq{doc: doc, updates: updates, done: make(chan struct{})}
	s.appends <- r
	<-r.done
	if r.err != nil {
		return Meta{}, opErr("append", doc, r.err)
	}
	return r.meta, nil
}

// appendReq is one Append waiting for the writer.
type appendReq struct {
	doc     string
	updates [][]byte
	meta    Meta
	err     error
	done    chan struct{}
}

// Limits on one group commit, so that a burst does not make one
// transaction (and the wait of everyone in it) arbitrarily long.
const (
	maxGroupRequests = 256
	maxGroupBytes    = 16 << 20
)

// writer is the goroutine that commits Appends. bbolt admits one writing
// transaction at a time and each costs an fsync, so if every Append
// committed on its own, the server's edit rate would be the disk's fsync
// rate divided among all busy documents. Instead writer takes whatever has
// queued up while the previous commit ran and commits it as one
// transaction: one fsync for many documents. A lone Append is committed at
// once, with no timer to add latency.
func (s *Bolt) writer() {
	defer close(s.writerDone)
	for r := range s.appends {
		group := []*appendReq{r}
		size := reqBytes(r)
	drain:
		for len(group) < maxGroupRequests && size < maxGroupBytes {
			select {
			case r, ok := <-s.appends:
				if !ok {
					break drain
				}
				group = append(group, r)
				size += reqBytes(r)
			default:
				break drain
			}
		}
		s.commitGroup(group)
	}
}

func reqBytes(r *appendReq) int {
	n := 0
	for _, u := range r.updates {
		n += len(u)
	}
	return n
}

// commitGroup commits the group in one transaction. If that fails, it
// commits each request on its own, so that one damaged document fails only
// its own Append and the others are stored.
func (s *Bolt) commitGroup(group []*appendReq) {
	t := now().UnixNano()
	err := s.update(func(tx *bolt.Tx) error {
		for _, r := range group {
			m, err := appendTx(tx, r.doc, r.updates, t)
			if err != nil {
				return err
			}
			r.meta = m
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		for _, r := range group {
			r.err = s.update(func(tx *bolt.Tx) (err error) {
				r.meta, err = appendTx(tx, r.doc, r.updates, t)
				return err
			})
		}
	} else {
		for _, r := range group {
			r.err = err
		}
	}
	for _, r := range group {
		close(r.done)
	}
}

// appendTx adds updates to doc's log within tx and returns the new Meta.
func appendTx(tx *bolt.Tx, doc string, updates [][]byte, t int64) (Meta, error) {
	docs, err := docsBucket(tx)
	if err != nil {
		return Meta{}, err
	}
	var m diskMeta
	b := docs.Bucket([]byte(doc))
	if b == nil {
		if b, err = docs.CreateBucket([]byte(doc)); err != nil {
			return Meta{}, err
		}
		if _, err = b.CreateBucket(bucketLog); err != nil {
			return Meta{}, err
		}
		m.created = t
	} else if m, err = readMeta(b); err != nil {
		return Meta{}, err
	}
	log := b.Bucket(bucketLog)
	// Keys only ever grow, so full pages never take a later insert: pack
	// them instead of leaving bbolt's default half-empty splits.
	log.FillPercent = 0.95
	// bbolt keeps key and value slices until commit. Values are the
	// caller's, valid until its Append returns; keys get one fresh backing
	// array so no key aliases another.
	keys := make([]byte, 8*len(updates))
	for i, u := range updates {
		m.lastSeq++
		k := keys[8*i : 8*i+8]
		binary.BigEndian.PutUint64(k, m.lastSeq)
		if err := log.Put(k, u); err != nil {
			return Meta{}, err
		}
		m.logBytes += uint64(len(u))
	}
	m.updated = t
	if err := b.Put(keyMeta, m.encode()); err != nil {
		return Meta{}, err
	}
	return m.meta(doc, b), nil
}

// Compact implements Store.
func (s *Bolt) Compact(ctx context.Context, doc string, snapshot []byte, through uint64) error {
	if err := s.begin(ctx, doc); err != nil {
		return opErr("compact", doc, err)
	}
	defer s.mu.RUnlock()
	err := s.update(func(tx *bolt.Tx) error {
		docs, err := docsBucket(tx)
		if err != nil {
			return err
		}
		var m diskMeta
		b := docs.Bucket([]byte(doc))
		if b != nil {
			if m, err = readMeta(b); err != nil {
				return err
			}
		}
		if through < m.snapshotSeq || through > m.lastSeq {
			return fmt.Errorf("through %d: %w (snapshot covers %d, last append %d)",
				through, ErrConflict, m.snapshotSeq, m.lastSeq)
		}
		if b == nil {
			if b, err = docs.CreateBucket([]byte(doc)); err != nil {
				return err
			}
			if _, err = b.CreateBucket(bucketLog); err != nil {
				return err
			}
			m.created = now().UnixNano()
			m.updated = m.created
		}
		if through == m.lastSeq {
			// The usual case, the whole log: dropping the bucket frees its
			// pages at once instead of rebalancing per key.
			if err := b.DeleteBucket(bucketLog); err != nil {
				return err
			}
			if _, err := b.CreateBucket(bucketLog); err != nil {
				return err
			}
			m.logBytes = 0
		} else if through > m.snapshotSeq {
			// Collect first: deleting under a cursor can skip keys.
			log := b.Bucket(bucketLog)
			var drop [][]byte
			c := log.Cursor()
			for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= through; k, v = c.Next() {
				drop = append(drop, clone(k))
				m.logBytes -= uint64(len(v))
			}
			for _, k := range drop {
				if err := log.Delete(k); err != nil {
					return err
				}
			}
		}
		if err := putSnapshot(b, snapshot); err != nil {
			return err
		}
		m.snapshotSeq = through
		return b.Put(keyMeta, m.encode())
	})
	if err != nil {
		return opErr("compact", doc, err)
	}
	return nil
}

// List implements Store.
func (s *Bolt) List(ctx context.Context) ([]Meta, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: list: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("storage: list: %w", ErrClosed)
	}
	var out []Meta
	err := s.view(func(tx *bolt.Tx) error {
		docs, err := docsBucket(tx)
		if err != nil {
			return err
		}
		return docs.ForEachBucket(func(k []byte) error {
			b := docs.Bucket(k)
			m, err := readMeta(b)
			if err != nil {
				return fmt.Errorf("document %s: %w", qname(string(k)), err)
			}
			out = append(out, m.meta(string(k), b))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list: %w", err)
	}
	if out == nil {
		out = []Meta{}
	}
	return out, nil
}

// Stat implements Store.
func (s *Bolt) Stat(ctx context.Context, doc string) (Meta, error) {
	if err := s.begin(ctx, doc); err != nil {
		return Meta{}, opErr("stat", doc, err)
	}
	defer s.mu.RUnlock()
	var out Meta
	err := s.view(func(tx *bolt.Tx) error {
		docs, err := docsBucket(tx)
		if err != nil {
			return err
		}
		b := docs.Bucket([]byte(doc))
		if b == nil {
			return ErrNotFound
		}
		m, err := readMeta(b)
		if err != nil {
			return err
		}
		out = m.meta(doc, b)
		return nil
	})
	if err != nil {
		return Meta{}, opErr("stat", doc, err)
	}
	return out, nil
}

// Delete implements Store.
func (s *Bolt) Delete(ctx context.Context, doc string) error {
	if err := s.begin(ctx, doc); err != nil {
		return opErr("delete", doc, err)
	}
	defer s.mu.RUnlock()
	err := s.update(func(tx *bolt.Tx) error {
		docs, err := docsBucket(tx)
		if err != nil {
			return err
		}
		err = docs.DeleteBucket([]byte(doc))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return opErr("delete", doc, err)
	}
	return nil
}

// Close implements Store. It waits for operations in flight, then stops the
// writer and closes the file.
func (s *Bolt) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Every Append holds mu shared until its request is done, so the
	// queue is empty now and the writer exits at once.
	close(s.appends)
	<-s.writerDone
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the data file's path, for logs and error messages.
func (s *Bolt) Path() string { return s.path }
