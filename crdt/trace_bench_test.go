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
