package crdt

import (
	"runtime"
	"testing"
)

// BenchmarkTrace measures the phases a server goes through on each trace:
//
//	replay  every patch a local transaction on a Text
//	apply   every per-transaction update of that replay into a fresh Doc
//	load    the final full-state update into a fresh Doc
//	encode  the full state of the replayed Doc
//
// replay also reports the live heap of the replayed doc (heap-bytes).
func BenchmarkTrace(b *testing.B) {
	for _, tr := range loadTraces(b) {
		d, ups := newTestDoc(1, true)
		replay(tr, d)
		full := mustState(b, d)
		b.Run(tr.name+"/replay", func(b *testing.B) {
			b.ReportAllocs()
			var heap uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				before := liveHeap()
				b.StartTimer()
				d := NewDoc(Options{ClientID: 1})
				replay(tr, d)
				b.StopTimer()
				heap = liveHeap() - before
				runtime.KeepAlive(d)
				b.StartTimer()
			}
			b.ReportMetric(float64(heap), "heap-bytes")
		})
		b.Run(tr.name+"/apply", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				d := NewDoc(Options{ClientID: 2})
				for _, u := range *ups {
					if err := d.ApplyUpdate(u); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(tr.name+"/load", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				d := NewDoc(Options{ClientID: 2})
				if err := d.ApplyUpdate(full); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tr.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := d.EncodeStateAsUpdate(nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// liveHeap returns the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLoadMemory loads each trace's final state, as a server loads a
// stored document, and reports what the loaded Doc keeps alive: heap bytes
// per byte of the v1 encoding it came from (heap/encoded) and per struct
// in its store (heap/struct). The input buffer is the caller's and is not
// counted; whatever the Doc retains of it is.
func BenchmarkLoadMemory(b *testing.B) {
	for _, tr := range loadTraces(b) {
		src := NewDoc(Options{ClientID: 1})
		replay(tr, src)
		full := mustState(b, src)
		src = nil
		b.Run(tr.name, func(b *testing.B) {
			var heap uint64
			var structs int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				before := liveHeap()
				b.StartTimer()
				d := NewDoc(Options{ClientID: 2})
				if err := d.ApplyUpdate(full); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				heap = liveHeap() - before
				structs = 0
				for _, l := range d.store.clients {
					structs += l.len()
				}
				runtime.KeepAlive(d)
				b.StartTimer()
			}
			b.ReportMetric(float64(heap)/float64(len(full)), "heap/encoded")
			b.ReportMetric(float64(heap)/float64(structs), "heap/struct")
			b.ReportMetric(float64(structs), "structs")
			b.ReportMetric(float64(len(full)), "encoded-bytes")
		})
	}
}
