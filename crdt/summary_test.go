package crdt

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// relayServer is what quire's sessions do with a Summary: absorb what it
// can judge, and hand the rest to a replica. ref applies every update as
// it comes, the way a server holding a replica throughout would.
type relayServer struct {
	t        *testing.T
	gc       bool
	ref      *Doc
	relay    *Doc     // applies only what the server would persist
	sum      *Summary // nil while relay holds something pending
	absorbed int      // updates the summary judged
	handed   int      // updates handed to the replica
}

func newRelayServer(t *testing.T, gc bool) *relayServer {
	s := &relayServer{t: t, gc: gc,
		ref:   NewDoc(Options{ClientID: 1, NoGC: !gc}),
		relay: NewDoc(Options{ClientID: 2, NoGC: !gc})}
	s.resummarize()
	if s.sum == nil {
		t.Fatal("an empty document has no summary")
	}
	return s
}

func (s *relayServer) resummarize() {
	s.sum = nil
	if s.relay.PendingSize() == 0 {
		s.sum, _ = NewSummary(mustState(s.t, s.relay))
	}
}

func (s *relayServer) receive(u []byte) {
	t := s.t
	t.Helper()
	if err := s.ref.ApplyUpdate(u); err != nil {
		t.Fatal(err)
	}
	if s.sum != nil {
		pending0 := s.ref.PendingSize()
		if added, ok := s.sum.Absorb(u); ok {
			s.absorbed++
			if s.ref.PendingSize() != pending0 {
				t.Fatalf("absorbed an update that leaves something pending in a replica")
			}
			if added != nil {
				if err := s.relay.ApplyUpdate(added); err != nil {
					t.Fatalf("what Absorb returned does not apply: %v", err)
				}
				if s.relay.PendingSize() != 0 {
					t.Fatal("what Absorb returned leaves something pending")
				}
			}
			s.check()
			return
		}
	}
	s.handed++
	if err := s.relay.ApplyUpdate(u); err != nil {
		t.Fatal(err)
	}
	s.resummarize()
	s.check()
}

// check compares the relay, and the summary, with the replica that saw
// every update as it came.
func (s *relayServer) check() {
	t := s.t
	t.Helper()
	want, got := mustState(t, s.ref), mustState(t, s.relay)
	if !bytes.Equal(want, got) {
		t.Fatalf("relay state differs from the replica's:\n got %x\nwant %x", got, want)
	}
	if s.sum == nil {
		return
	}
	if got, want := s.sum.StateVector(), s.ref.EncodeStateVector(); !bytes.Equal(got, want) && s.ref.PendingSize() == 0 {
		t.Fatalf("summary state vector %x, replica's %x", got, want)
	}
	// The summary knows the deletions updates name. A replica also
	// deletes on integration what no update names (a map value that lost
	// to a concurrent one, an item whose parent is deleted), and every
	// replica does the same, so the summary may know less, never more.
	ds := deleteSetFromStore(s.relay.store)
	for c, ranges := range s.sum.ds {
		for _, r := range ranges {
			if r.len > 0 && len(subtractRanges(r, ds[c])) > 0 {
				t.Fatalf("client %d: summary deletes %v, replica only %v", c, r, ds[c])
			}
		}
	}
}

// TestSummaryRelay: a server that relays through a Summary, handing to a
// replica only what the Summary cannot judge, ends with the state of a
// server that applied everything to a replica, update by update, whatever
// order the updates come in, and with repeats.
func TestSummaryRelay(t *testing.T) {
	for seed := range uint64(16) {
		rng := rand.New(rand.NewPCG(seed, 7))
		gc := seed%4 != 0
		updates, docs := editHistory(t, rng, 3, 300, gc)
		order := slices.Clone(updates)
		shuffled := seed%2 == 1
		if shuffled {
			// Swap some neighbours: updates that arrive before what they
			// depend on.
			for i := 0; i+1 < len(order); i++ {
				if rng.IntN(8) == 0 {
					order[i], order[i+1] = order[i+1], order[i]
				}
			}
		}
		srv := newRelayServer(t, gc)
		for i, u := range order {
			srv.receive(u)
			if rng.IntN(10) == 0 {
				srv.receive(order[rng.IntN(i+1)]) // a repeat
			}
		}
		// A reconnecting client sends its whole state as step 2.
		srv.receive(mustState(t, docs[0]))
		if !shuffled && srv.handed != 0 {
			t.Fatalf("seed %d: %d updates in causal order handed to a replica", seed, srv.handed)
		}
		if srv.absorbed < len(order)/2 {
			t.Fatalf("seed %d: only %d of %d updates absorbed", seed, srv.absorbed, len(order))
		}
		if srv.sum == nil {
			t.Fatalf("seed %d: no summary at the end", seed)
		}
		if added, ok := srv.sum.Absorb(mustState(t, docs[1])); !ok || added != nil {
			t.Fatalf("seed %d: a state the document has adds %x (ok %v)", seed, added, ok)
		}
		if got, want := mustState(t, srv.relay), mustState(t, docs[2]); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: relay differs from the editors' replicas", seed)
		}
		// A peer with every struct gets the deletions alone, and they
		// bring it to the state the whole diff would.
		for _, d := range docs {
			u, ok, err := srv.sum.UpdateFor(d.EncodeStateVector())
			if err != nil || !ok {
				t.Fatalf("seed %d: UpdateFor a synced peer: ok %v, %v", seed, ok, err)
			}
			full, err := DiffUpdate(mustState(t, srv.relay), d.EncodeStateVector())
			if err != nil {
				t.Fatal(err)
			}
			a, b := NewDoc(Options{ClientID: 5, NoGC: !gc}), NewDoc(Options{ClientID: 5, NoGC: !gc})
			for _, x := range []*Doc{a, b} {
				if err := x.ApplyUpdate(mustState(t, d)); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
			if err := b.ApplyUpdate(full); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustState(t, a), mustState(t, b)) {
				t.Fatalf("seed %d: the deletions alone and the whole diff give different states", seed)
			}
		}
		if _, ok, _ := srv.sum.UpdateFor([]byte{0}); ok {
			t.Fatalf("seed %d: UpdateFor an empty peer answers with deletions alone", seed)
		}
		// A replica summarizes itself as its encoding summarizes.
		fromDoc, ok := srv.relay.Summary()
		fromState, ok2 := NewSummary(mustState(t, srv.relay))
		if !ok || !ok2 {
			t.Fatalf("seed %d: no summary (from the Doc %v, from its state %v)", seed, ok, ok2)
		}
		if !bytes.Equal(fromDoc.StateVector(), fromState.StateVector()) || !reflect.DeepEqual(fromDoc.ds, fromState.ds) {
			t.Fatalf("seed %d: Doc.Summary %v %v, NewSummary %v %v", seed, fromDoc.sv, fromDoc.ds, fromState.sv, fromState.ds)
		}
	}
}

// TestSummaryRefuses: what only a replica can decide is handed back, and
// the summary is left as it was.
func TestSummaryRefuses(t *testing.T) {
	d := NewDoc(Options{ClientID: 1})
	if err := d.Text("t").Insert(0, "base", nil); err != nil {
		t.Fatal(err)
	}
	sum, ok := NewSummary(mustState(t, d))
	if !ok {
		t.Fatal("no summary of a plain document")
	}
	sv := slices.Clone(sum.StateVector())
	origin := ID{1, 3}
	missing := ID{9, 5}
	tests := []struct {
		name   string
		update []byte
	}{
		{"gap in the client's clock", v1Struct(1, 6, &origin, nil, nil, nil)},
		{"origin the document lacks", v1Struct(2, 0, &missing, nil, nil, nil)},
		{"right origin the document lacks", v1Struct(2, 0, &origin, &missing, nil, nil)},
		{"parent the document lacks", v1Struct(2, 0, nil, nil, &missing, nil)},
		{"deletion of what the document lacks", v1Deletes([]deleteRangeOf{{1, 2, 5}})},
		{"clock at 2^52", v1Struct(3, clockLimit, nil, nil, nil, nil)},
		{"malformed", []byte{1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if added, ok := sum.Absorb(tc.update); ok {
				t.Fatalf("absorbed, adding %x", added)
			}
			if !bytes.Equal(sum.StateVector(), sv) {
				t.Fatal("the state vector changed")
			}
		})
	}
	// And what it can judge, it takes.
	if added, ok := sum.Absorb(v1Struct(2, 0, &origin, nil, nil, nil)); !ok || added == nil {
		t.Fatalf("an insert after a known character: ok %v, added %x", ok, added)
	}
	if added, ok := sum.Absorb(v1Deletes([]deleteRangeOf{{1, 1, 2}})); !ok || added == nil {
		t.Fatalf("a deletion of known characters: ok %v, added %x", ok, added)
	}
	if added, ok := sum.Absorb(v1Deletes([]deleteRangeOf{{1, 1, 2}})); !ok || added != nil {
		t.Fatalf("the same deletion again: ok %v, added %x", ok, added)
	}
}

// FuzzSummaryAbsorb: whatever Absorb takes, a replica integrates whole, and
// what Absorb returns brings a replica to the same state as the update.
func FuzzSummaryAbsorb(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := func() *Doc {
			d := NewDoc(Options{ClientID: 1})
			if err := d.Text("t").Insert(0, "base", nil); err != nil {
				t.Fatal(err)
			}
			return d
		}
		d0 := base()
		sum, ok := NewSummary(mustState(t, d0))
		if !ok {
			t.Fatal("no summary of the base document")
		}
		added, ok := sum.Absorb(data)
		if !ok {
			return
		}
		if err := d0.ApplyUpdate(data); err != nil {
			t.Fatalf("absorbed an update a Doc rejects: %v", err)
		}
		if d0.PendingSize() != 0 {
			t.Fatal("absorbed an update that leaves something pending")
		}
		if !bytes.Equal(sum.StateVector(), d0.EncodeStateVector()) {
			t.Fatalf("summary state vector %x, replica's %x", sum.StateVector(), d0.EncodeStateVector())
		}
		d1 := base()
		if added != nil {
			if err := d1.ApplyUpdate(added); err != nil {
				t.Fatalf("what Absorb returned does not apply: %v", err)
			}
		}
		if !consistent(data, false, map[uint64][]deleteRange{1: {{0, 4}}}) {
			return // a forgery: where its content goes depends on splits
		}
		if got, want := sameStateKey(t, d1), sameStateKey(t, d0); got != want {
			t.Fatalf("what Absorb returned gives\n%s\nthe update gives\n%s", got, want)
		}
	})
}
