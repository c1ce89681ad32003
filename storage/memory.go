package storage

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Memory is a Store that keeps everything in process memory, for tests. It
// has the bolt store's semantics, including copying bytes in and out, so a
// test that passes against it does not depend on aliasing the bolt store
// forbids.
type Memory struct {
	mu     sync.RWMutex
	docs   map[string]*memDoc
	closed bool
}

type memDoc struct {
	meta     Meta // Bytes, SnapshotBytes and LogCount derived on read
	snapshot []byte
	log      [][]byte // sequences meta.SnapshotSeq+1 ...
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{docs: make(map[string]*memDoc)}
}

var _ Store = (*Memory)(nil)

func (d *memDoc) stat() Meta {
	m := d.meta
	m.SnapshotBytes = int64(len(d.snapshot))
	m.Bytes = m.SnapshotBytes + m.LogBytes
	m.LogCount = len(d.log)
	return m
}

// begin checks what every operation checks before touching the map.
func (s *Memory) begin(ctx context.Context, op, doc string) error {
	if err := ctx.Err(); err != nil {
		return opErr(op, doc, err)
	}
	if err := checkName(doc); err != nil {
		return opErr(op, doc, err)
	}
	if s.closed {
		return opErr(op, doc, ErrClosed)
	}
	return nil
}

// Load implements Store.
func (s *Memory) Load(ctx context.Context, doc string) (State, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.begin(ctx, "load", doc); err != nil {
		return State{}, err
	}
	d := s.docs[doc]
	if d == nil {
		return State{Meta: Meta{Name: doc}}, nil
	}
	st := State{Snapshot: clone(d.snapshot), Meta: d.stat()}
	if len(d.log) > 0 {
		st.Updates = make([][]byte, len(d.log))
		for i, u := range d.log {
			st.Updates[i] = clone(u)
		}
	}
	return st, nil
}

// Append implements Store.
func (s *Memory) Append(ctx context.Context, doc string, updates ...[]byte) (Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, "append", doc); err != nil {
		return Meta{}, err
	}
	if err := checkUpdates(updates); err != nil {
		return Meta{}, opErr("append", doc, err)
	}
	d := s.docs[doc]
	if len(updates) == 0 {
		if d == nil {
			return Meta{Name: doc}, nil
		}
		return d.stat(), nil
	}
	t := now()
	if d == nil {
		d = &memDoc{meta: Meta{Name: doc, Created: t}}
		s.docs[doc] = d
	}
	for _, u := range updates {
		d.log = append(d.log, clone(u))
		d.meta.LogBytes += int64(len(u))
	}
	d.meta.LastSeq += uint64(len(updates))
	d.meta.Updated = t
	return d.stat(), nil
}

// Compact implements Store.
func (s *Memory) Compact(ctx context.Context, doc string, snapshot []byte, through uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, "compact", doc); err != nil {
		return err
	}
	d := s.docs[doc]
	var m Meta
	if d != nil {
		m = d.meta
	}
	if through < m.SnapshotSeq || through > m.LastSeq {
		return opErr("compact", doc, fmt.Errorf("through %d: %w (snapshot covers %d, last append %d)",
			through, ErrConflict, m.SnapshotSeq, m.LastSeq))
	}
	if d == nil {
		t := now()
		d = &memDoc{meta: Meta{Name: doc, Created: t, Updated: t}}
		s.docs[doc] = d
	}
	drop := int(through - d.meta.SnapshotSeq)
	for _, u := range d.log[:drop] {
		d.meta.LogBytes -= int64(len(u))
	}
	// Copy the tail rather than reslice so the dropped entries can be freed.
	d.log = append([][]byte(nil), d.log[drop:]...)
	d.snapshot = clone(snapshot)
	d.meta.SnapshotSeq = through
	return nil
}

// List implements Store.
func (s *Memory) List(ctx context.Context) ([]Meta, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: list: %w", err)
	}
	if s.closed {
		return nil, fmt.Errorf("storage: list: %w", ErrClosed)
	}
	out := make([]Meta, 0, len(s.docs))
	for _, d := range s.docs {
		out = append(out, d.stat())
	}
	// Go compares strings bytewise, which is bbolt's key order.
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stat implements Store.
func (s *Memory) Stat(ctx context.Context, doc string) (Meta, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.begin(ctx, "stat", doc); err != nil {
		return Meta{}, err
	}
	d := s.docs[doc]
	if d == nil {
		return Meta{}, opErr("stat", doc, ErrNotFound)
	}
	return d.stat(), nil
}

// Delete implements Store.
func (s *Memory) Delete(ctx context.Context, doc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, "delete", doc); err != nil {
		return err
	}
	if s.docs[doc] == nil {
		return opErr("delete", doc, ErrNotFound)
	}
	delete(s.docs, doc)
	return nil
}

// Close implements Store.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.docs = nil
	return nil
}
