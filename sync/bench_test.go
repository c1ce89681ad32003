package sync

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

// The benchmarks behind docs/benchmarks.md (the server half):
//
//	go test -run '^$' -bench . -benchtime 10x ./sync/
//
// They use the automerge-paper editing trace (crdt/testdata/traces), or
// the trace named by QUIRE_TRACE, replayed with the crdt package.

func tracePath() string {
	if p := os.Getenv("QUIRE_TRACE"); p != "" {
		return p
	}
	return filepath.Join("..", "crdt", "testdata", "traces", "automerge-paper.json.gz")
}

var (
	traceOnce  gosync.Once
	traceState []byte // the final state, encoded as one v1 update
	traceText  int    // its length in characters
	traceErr   error
)

// finalState replays the trace, one transaction per recorded transaction,
// and returns the final document as an update.
func finalState(b testing.TB) ([]byte, int) {
	traceOnce.Do(func() {
		f, err := os.Open(tracePath())
		if err != nil {
			traceErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			traceErr = err
			return
		}
		var raw struct {
			EndContent string `json:"endContent"`
			Txns       []struct {
				Patches [][3]any `json:"patches"`
			} `json:"txns"`
		}
		if err := json.NewDecoder(zr).Decode(&raw); err != nil {
			traceErr = err
			return
		}
		d := crdt.NewDoc(crdt.Options{ClientID: 1})
		t := d.Text("text")
		for _, tx := range raw.Txns {
			d.Transact(func() {
				for _, p := range tx.Patches {
					pos, del, ins := int(p[0].(float64)), int(p[1].(float64)), p[2].(string)
					if del > 0 {
						if err := t.Delete(pos, del); err != nil {
							panic(err)
						}
					}
					if ins != "" {
						if err := t.Insert(pos, ins, nil); err != nil {
							panic(err)
						}
					}
				}
			})
		}
		if t.String() != raw.EndContent {
			traceErr = fmt.Errorf("replay does not give the trace's end content")
			return
		}
		traceText = t.Len()
		traceState, traceErr = d.EncodeStateAsUpdate(nil)
	})
	if traceErr != nil {
		b.Skipf("trace: %v", traceErr)
	}
	return traceState, traceText
}

func openBenchBolt(b testing.TB) storage.Store {
	st, err := storage.OpenBolt(filepath.Join(b.TempDir(), "quire.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkLoadAndServe: a new client connects to a document that is not
// loaded (the automerge-paper final state, stored as one snapshot in
// bbolt) and asks for everything; timed until it has the step 2.
func BenchmarkLoadAndServe(b *testing.B) {
	state, _ := finalState(b)
	st := openBenchBolt(b)
	if err := st.Compact(context.Background(), "paper", state, 0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := NewHub(Config{Store: st})
		c := dial(b, h, "paper", "bench")
		c.conn.send(b, EncodeSyncStep1([]byte{0}))
		m := c.expect(MsgSync)
		if m.Sync != SyncStep2 || len(m.Payload) < len(state)/2 {
			b.Fatalf("got %s of %d bytes", m.Sync, len(m.Payload))
		}
		b.StopTimer()
		c.conn.hangUp()
		c.wait()
		_ = h.Close(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(len(state)), "state-bytes")
}

// BenchmarkUpdatesPersisted: how many small updates one session absorbs
// per second with bbolt durability (fsync) on, from 1 and from 8
// concurrent peers that send without waiting. Every update is applied,
// appended (group commit) and echoed to every peer; timed until the last
// echo arrived.
func BenchmarkUpdatesPersisted(b *testing.B) {
	for _, peers := range []int{1, 8} {
		b.Run(fmt.Sprintf("peers=%d", peers), func(b *testing.B) {
			st := openBenchBolt(b)
			h := NewHub(Config{Store: st, OutboxMessages: 1 << 20, OutboxBytes: 1 << 30, Grace: time.Minute})
			defer h.Close(context.Background())
			clients := make([]*client, peers)
			frames := make([][][]byte, peers)
			per := (b.N + peers - 1) / peers
			for i := range clients {
				clients[i] = dial(b, h, "bench", fmt.Sprint("c", i))
				clients[i].conn.fromSrv = make(chan []byte, per*peers+16)
				d := crdt.NewDoc(crdt.Options{ClientID: uint64(100 + i)})
				var ups [][]byte
				d.OnUpdate(func(u []byte) { ups = append(ups, u) })
				for k := 0; k < per; k++ {
					_ = d.Text("t").Insert(d.Text("t").Len(), "x", nil)
				}
				for _, u := range ups {
					frames[i] = append(frames[i], EncodeSyncUpdate(u))
				}
			}
			appends0 := h.Stats().Appends
			b.ResetTimer()
			var wg gosync.WaitGroup
			for i, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, f := range frames[i] {
						c.conn.toSrv <- f
					}
				}()
			}
			// Every peer gets every update echoed, several merged into one
			// broadcast per batch: count the clocks they carry (one per
			// insert).
			for _, c := range clients {
				for n := uint64(0); n < uint64(per*peers); {
					if m := c.next(); m.Type == MsgSync && m.Sync == SyncUpdate {
						from, to, err := crdt.ParseUpdateMeta(m.Payload)
						if err != nil {
							b.Fatal(err)
						}
						for client, end := range to {
							n += end - from[client]
						}
					}
				}
			}
			b.StopTimer()
			wg.Wait()
			total := per * peers
			s := h.Stats()
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "updates/s")
			b.ReportMetric(float64(total)/float64(max(1, s.Appends-appends0)), "updates/append")
			for _, c := range clients {
				c.conn.hangUp()
				c.wait()
			}
		})
	}
}

// BenchmarkUpdateRoundTrip: one peer sends an update and waits for its
// echo before sending the next: the latency of one durable edit (apply,
// one fsync, echo) on an otherwise idle session.
func BenchmarkUpdateRoundTrip(b *testing.B) {
	st := openBenchBolt(b)
	h := NewHub(Config{Store: st, Grace: time.Minute})
	defer h.Close(context.Background())
	c := dial(b, h, "bench", "c")
	d := crdt.NewDoc(crdt.Options{ClientID: 7})
	var ups [][]byte
	d.OnUpdate(func(u []byte) { ups = append(ups, u) })
	for k := 0; k < b.N; k++ {
		_ = d.Text("t").Insert(k, "x", nil)
	}
	b.ResetTimer()
	for _, u := range ups {
		c.conn.send(b, EncodeSyncUpdate(u))
		if m := c.expect(MsgSync); m.Sync != SyncUpdate {
			b.Fatal(m.Sync)
		}
	}
	b.StopTimer()
	c.conn.hangUp()
	c.wait()
}

// BenchmarkMemoryPerDocument loads copies of the automerge-paper final
// state under different names and reports the memory each loaded document
// costs against its encoded size (the goal: under 3x; yjs holds
// 11-13x): heap in use after GC, and the process RSS. "hot" documents
// hold their crdt replica (HibernateAfter off, as before documents could
// relay cold); "edited" ones were loaded as quire loads them and a client
// made 200 edits to each (inserts and deletions at random places), which
// they relayed cold; "idle" ones were only read, and went cold after
// Config.HibernateAfter.
func BenchmarkMemoryPerDocument(b *testing.B) {
	state, _ := finalState(b)
	const docs = 20
	for _, mode := range []string{"hot", "edited", "idle"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				// A store of its own each time: the edits and the
				// compaction at unload change the documents.
				st := storage.NewMemory()
				for k := 0; k < docs; k++ {
					if err := st.Compact(context.Background(), fmt.Sprint("paper", k), state, 0); err != nil {
						b.Fatal(err)
					}
				}
				cfg := Config{Store: st, Grace: time.Hour, HibernateAfter: -1}
				switch mode {
				case "idle":
					cfg.HibernateAfter = time.Millisecond
					cfg.AwarenessTimeout = 100 * time.Millisecond
				case "edited":
					cfg.HibernateAfter = 0 // the default
				}
				h := NewHub(cfg)
				heap0, rss0 := memNow()
				for k := 0; k < docs; k++ {
					name := fmt.Sprint("paper", k)
					if mode == "edited" {
						editDoc(b, h, name, 200)
						continue
					}
					if err := h.Read(context.Background(), name, func(*crdt.Doc) error { return nil }); err != nil {
						b.Fatal(err)
					}
				}
				if mode == "edited" && h.Stats().Hibernating != docs {
					b.Fatalf("%d of %d edited documents cold", h.Stats().Hibernating, docs)
				}
				if mode == "idle" {
					for h.Stats().Hibernating < docs {
						time.Sleep(5 * time.Millisecond)
					}
				}
				heap1, rss1 := memNow()
				per := float64(heap1-heap0) / docs
				b.ReportMetric(per/float64(len(state)), "heap/encoded")
				b.ReportMetric(float64(rss1-rss0)/docs/float64(len(state)), "rss/encoded")
				b.ReportMetric(per, "heap-bytes/doc")
				b.ReportMetric(float64(len(state)), "encoded-bytes")
				_ = h.Close(context.Background())
			}
		})
	}
	// The same documents without the server around them: what the crdt
	// package itself holds.
	b.Run("crdt", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			heap0, _ := memNow()
			held := make([]*crdt.Doc, docs)
			for k := range held {
				held[k] = crdt.NewDoc(crdt.Options{})
				if err := held[k].ApplyUpdate(state); err != nil {
					b.Fatal(err)
				}
			}
			heap1, _ := memNow()
			b.ReportMetric(float64(heap1-heap0)/docs/float64(len(state)), "heap/encoded")
			runtime.KeepAlive(held)
		}
	})
}

// editDoc joins name as a client with the whole document, makes n edits
// (two inserts for each deletion, at random places), waits for their
// echoes, and leaves.
func editDoc(b testing.TB, h *Hub, name string, n int) {
	c := dial(b, h, name, "editor")
	c.conn.send(b, EncodeSyncStep1([]byte{0}))
	m := c.expect(MsgSync)
	for m.Sync != SyncStep2 {
		m = c.expect(MsgSync)
	}
	if err := c.doc.ApplyUpdate(m.Payload); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(len(name)), 1))
	text := c.doc.Text("text")
	for i := 0; i < n; i++ {
		c.edit(func(d *crdt.Doc) {
			var err error
			if l := text.Len(); i%3 == 2 && l > 0 {
				err = text.Delete(rng.IntN(l), 1)
			} else {
				err = text.Insert(rng.IntN(l+1), "ab", nil)
			}
			if err != nil {
				b.Fatal(err)
			}
		})
		for c.expect(MsgSync).Sync != SyncUpdate {
		}
	}
	c.conn.hangUp()
	c.wait()
}

// memNow returns heap in use after a full GC, and the resident set size.
func memNow() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			rss = pages * uint64(os.Getpagesize())
		}
	}
	return ms.HeapInuse, rss
}
