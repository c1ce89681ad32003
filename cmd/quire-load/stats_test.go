package main

import (
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
)

func TestMarkersInUpdates(t *testing.T) {
	d := crdt.NewDoc(crdt.Options{ClientID: 5})
	var upd []byte
	d.OnUpdate(func(u []byte) { upd = u })
	text := d.Text("t")
	if err := text.Insert(0, "hello world", nil); err != nil {
		t.Fatal(err)
	}
	type mk struct {
		e, s int
		us   int64
	}
	want := []mk{{0, 0, 0}, {249, 1234, 987654321}, {7, 35, 36}}
	var all []byte
	for _, m := range want {
		b := appendMarker(nil, m.e, m.s, m.us)
		if err := text.Insert(3, string(b), nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, upd...)
	}
	var got []mk
	scanMarkers(append([]byte("q[zz.q[1.2]q[x"), all...), func(e, s int, us int64) { got = append(got, mk{e, s, us}) })
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestHist(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {1, 1000}} {
		if got := h.quantile(c.q); got < c.want*0.96 || got > c.want*1.04 {
			t.Errorf("q%.2f = %.1f ms, want about %.0f", c.q, got, c.want)
		}
	}
	if s := h.summary(); s.Max != 1000 || s.N != 1000 {
		t.Errorf("summary %+v", s)
	}
	for us := int64(0); us < 1<<36; us = us*3/2 + 1 {
		if v := histValue(histIndex(us)); float64(v) < float64(us)*0.96 || float64(v) > float64(us)*1.04+1 {
			t.Fatalf("bucket of %d µs is %d", us, v)
		}
	}
}

func TestFirstClient(t *testing.T) {
	d := crdt.NewDoc(crdt.Options{ClientID: offlineClient})
	var upd []byte
	d.OnUpdate(func(u []byte) { upd = u })
	_ = d.Text("t").Insert(0, "x", nil)
	if c := firstClient(upd); c != offlineClient {
		t.Fatalf("firstClient = %d", c)
	}
}
