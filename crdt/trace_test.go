package crdt

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// A trace is a recorded editing session (see testdata/traces/README.md):
// patches [position, deleted, inserted] applied in order give endContent.
type trace struct {
	name    string
	end     string
	txns    [][]patch
	patches int
}

type patch struct {
	pos, del int
	ins      string
}

// traceDir is where traces are read from; QUIRE_TRACES overrides it so the
// same benchmarks run on any trace of the same format.
func traceDir() string {
	if d := os.Getenv("QUIRE_TRACES"); d != "" {
		return d
	}
	return filepath.Join("testdata", "traces")
}

func loadTraces(tb testing.TB) []*trace {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(traceDir(), "*.json.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no traces in %s", traceDir())
	}
	var out []*trace
	for _, f := range files {
		out = append(out, loadTrace(tb, f))
	}
	return out
}

func loadTrace(tb testing.TB, path string) *trace {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var raw struct {
		EndContent string `json:"endContent"`
		Txns       []struct {
			Patches [][3]any `json:"patches"`
		} `json:"txns"`
	}
	if err := json.NewDecoder(zr).Decode(&raw); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	tr := &trace{name: strings.TrimSuffix(filepath.Base(path), ".json.gz"), end: raw.EndContent}
	for _, t := range raw.Txns {
		var ps []patch
		for _, p := range t.Patches {
			ps = append(ps, patch{pos: int(p[0].(float64)), del: int(p[1].(float64)), ins: p[2].(string)})
		}
		tr.txns = append(tr.txns, ps)
		tr.patches += len(ps)
	}
	for _, r := range tr.end {
		if r >= 0x10000 {
			// Positions count code points; ours count UTF-16 units. They
			// agree only without astral characters.
			tb.Fatalf("%s: astral characters are not supported by the replay", path)
		}
	}
	return tr
}

// replay applies every transaction of tr as one local transaction.
func replay(tr *trace, d *Doc) *Text {
	t := d.Text("text")
	for _, ps := range tr.txns {
		d.Transact(func() {
			for _, p := range ps {
				if p.del > 0 {
					if err := t.Delete(p.pos, p.del); err != nil {
						panic(err)
					}
				}
				if p.ins != "" {
					if err := t.Insert(p.pos, p.ins, nil); err != nil {
						panic(err)
					}
				}
			}
		})
	}
	return t
}

func TestTraceReplay(t *testing.T) {
	for _, tr := range loadTraces(t) {
		t.Run(tr.name, func(t *testing.T) {
			d, ups := newTestDoc(1, true)
			text := replay(tr, d)
			if got := text.String(); got != tr.end {
				t.Fatalf("replay gives %d bytes, want %d", len(got), len(tr.end))
			}
			if text.Len() != utf8.RuneCountInString(tr.end) {
				t.Fatalf("length %d", text.Len())
			}
			// Applying the per-transaction updates to a fresh doc, as a
			// server does, gives the same document and the same bytes.
			d2 := NewDoc(Options{ClientID: 2})
			for _, u := range *ups {
				if err := d2.ApplyUpdate(u); err != nil {
					t.Fatal(err)
				}
			}
			if got := d2.Text("text").String(); got != tr.end {
				t.Fatalf("apply gives %d bytes, want %d", len(got), len(tr.end))
			}
			full := mustState(t, d)
			if string(full) != string(mustState(t, d2)) {
				t.Fatal("full states differ")
			}
			d3 := NewDoc(Options{ClientID: 3})
			if err := d3.ApplyUpdate(full); err != nil {
				t.Fatal(err)
			}
			if got := d3.Text("text").String(); got != tr.end {
				t.Fatal("load gives other text")
			}
			t.Logf("%d txns, %d patches, %d updates, state %d bytes, %d structs", len(tr.txns), tr.patches, len(*ups), len(full), d.store.clients[1].len())
		})
	}
}
