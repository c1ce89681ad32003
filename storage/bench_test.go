package storage_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/quirehq/quire/storage"
)

// A typical keystroke update from a Yjs client is a few dozen bytes.
const benchUpdateSize = 40

func benchStores(b *testing.B) map[string]func(b *testing.B) storage.Store {
	return map[string]func(b *testing.B) storage.Store{
		"bolt": func(b *testing.B) storage.Store {
			s, err := storage.OpenBolt(filepath.Join(b.TempDir(), "quire.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"bolt-nosync": func(b *testing.B) storage.Store {
			s, err := storage.OpenBolt(filepath.Join(b.TempDir(), "quire.db"), storage.WithNoSync())
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"memory": func(*testing.B) storage.Store { return storage.NewMemory() },
	}
}

// BenchmarkAppend measures one Append call (one transaction, one fsync for
// bolt) carrying a batch of updates; ns/op is the latency a session adds
// before it may broadcast, and updates/s what one document can sustain.
func BenchmarkAppend(b *testing.B) {
	for _, name := range []string{"bolt", "bolt-nosync", "memory"} {
		open := benchStores(b)[name]
		for _, batch := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				s := open(b)
				defer s.Close()
				updates := make([][]byte, batch)
				for i := range updates {
					updates[i] = bytes.Repeat([]byte{byte(i)}, benchUpdateSize)
				}
				b.SetBytes(int64(batch * benchUpdateSize))
				b.ResetTimer()
				for b.Loop() {
					m, err := s.Append(ctx, "doc", updates...)
					if err != nil {
						b.Fatal(err)
					}
					// Compact as a session would, so the log stays the size
					// it has in service, but leave the cost out.
					if storage.NeedsCompaction(m, storage.Policy{}) {
						b.StopTimer()
						if err := s.Compact(ctx, "doc", []byte("snapshot"), m.LastSeq); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "updates/s")
			})
		}
	}
}

// BenchmarkAppendParallel has many sessions append single updates to their
// own documents at once. bbolt has one writer, so with fsync on the rate is
// bounded by the disk's fsync rate whatever the number of documents.
func BenchmarkAppendParallel(b *testing.B) {
	for _, name := range []string{"bolt", "bolt-nosync", "memory"} {
		b.Run(name, func(b *testing.B) {
			s := benchStores(b)[name](b)
			defer s.Close()
			var next atomic.Int64
			update := bytes.Repeat([]byte{'u'}, benchUpdateSize)
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				doc := fmt.Sprintf("doc%d", next.Add(1))
				for pb.Next() {
					m, err := s.Append(ctx, doc, update)
					if err != nil {
						b.Error(err)
						return
					}
					if storage.NeedsCompaction(m, storage.Policy{}) {
						if err := s.Compact(ctx, doc, []byte("snapshot"), m.LastSeq); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// BenchmarkLoad measures loading a document as a session does on first use:
// a 200 KB snapshot and 100 log entries.
func BenchmarkLoad(b *testing.B) {
	for _, name := range []string{"bolt", "memory"} {
		b.Run(name, func(b *testing.B) {
			s := benchStores(b)[name](b)
			defer s.Close()
			if _, err := s.Append(ctx, "doc", []byte("seed")); err != nil {
				b.Fatal(err)
			}
			if err := s.Compact(ctx, "doc", bytes.Repeat([]byte("s"), 200_000), 1); err != nil {
				b.Fatal(err)
			}
			updates := make([][]byte, 100)
			for i := range updates {
				updates[i] = bytes.Repeat([]byte{byte(i)}, benchUpdateSize)
			}
			if _, err := s.Append(ctx, "doc", updates...); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(200_000 + 100*benchUpdateSize)
			b.ResetTimer()
			for b.Loop() {
				st, err := s.Load(ctx, "doc")
				if err != nil {
					b.Fatal(err)
				}
				if len(st.Updates) != 100 {
					b.Fatalf("loaded %d updates", len(st.Updates))
				}
			}
		})
	}
}

// BenchmarkAppendBigSnapshot appends to a document whose snapshot is large,
// as a long document's is: an Append must not cost in proportion to it.
func BenchmarkAppendBigSnapshot(b *testing.B) {
	for _, size := range []int{0, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("snapshot=%dKiB", size>>10), func(b *testing.B) {
			s := benchStores(b)["bolt"](b)
			defer s.Close()
			update := bytes.Repeat([]byte{'u'}, benchUpdateSize)
			m, err := s.Append(ctx, "doc", update)
			if err != nil {
				b.Fatal(err)
			}
			if size > 0 {
				if err := s.Compact(ctx, "doc", bytes.Repeat([]byte{'s'}, size), m.LastSeq); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Append(ctx, "doc", update); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
