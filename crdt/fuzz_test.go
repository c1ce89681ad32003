package crdt

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/quirehq/quire/crdt/lib0"
)

// fuzzSeeds are updates of every kind: the documented wire examples and
// updates of a small session touching every type.
func fuzzSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		unhexTB(tb, "01 01 01 00 04 01 01 74 03 61 62 63 00"),
		unhexTB(tb, "02 01 02 00 c4 01 00 01 01 01 58 02 01 00 04 01 01 74 01 61 81 01 00 02 01 01 01 01 02"),
		unhexTB(tb, "01 03 05 00 21 01 01 6d 01 6b 01 28 01 01 6d 01 73 01 77 02 68 69 a8 05 00 01 7c bf c0 00 00 01 05 01 00 01"),
		unhexTB(tb, "01 05 08 00 08 01 01 61 02 7d 01 78 83 08 01 01 09 87 08 02 01 87 08 03 03 01 70 28 00 08 03 01 78 01 7e 00"),
		unhexTB(tb, "01 03 06 00 06 01 01 74 04 626f6c64 04 74727565 84 06 00 02 68 69 86 06 02 04 626f6c64 04 6e756c6c 00"),
		unhexTB(tb, "02 01 02 00 00 01 02 01 00 01 01 01 61 01 00 02 02 02 01 00 01 01 01 00 03"),
		unhexTB(tb, "01 03 01 00 04 01 01 74 01 61 0a 01 84 01 01 01 63 00"),
	}
	d, ups := newTestDoc(9, true)
	m := d.Map("m")
	m.Set("k", "v")
	sub := NewText()
	m.Set("t", sub)
	sub.Insert(0, "hello", Attrs{{"bold", true}})
	d.Array("a").Insert(0, 1, "x", []byte{1, 2}, NewMap())
	f := d.XmlFragment("x")
	e := NewXmlElement("p")
	f.Insert(0, e)
	e.SetAttribute("a", "b")
	e.Insert(0, NewXmlText())
	d.Text("t").Insert(0, "a😀b", nil)
	d.Text("t").Delete(1, 1)
	seeds = append(seeds, *ups...)
	seeds = append(seeds, mustState(tb, d))
	return seeds
}

func unhexTB(tb testing.TB, s string) []byte {
	t, ok := tb.(*testing.T)
	if !ok {
		t = &testing.T{}
	}
	return unhex(t, s)
}

// FuzzApplyUpdate: no input makes ApplyUpdate panic, and whatever it
// accepts encodes into an update that a fresh doc accepts and encodes the
// same way.
func FuzzApplyUpdate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzApply(t, data, false)
	})
}

// FuzzApplyUpdateV2 is FuzzApplyUpdate for the v2 format.
func FuzzApplyUpdateV2(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if v2, err := ConvertUpdateV1ToV2(s); err == nil {
			f.Add(v2)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzApply(t, data, true)
	})
}

// fuzzApply checks the promise a server relies on to snapshot documents:
// whatever ApplyUpdate accepts, pending structs and deletions included, the
// Doc encodes again in v1 and in v2, and either encoding loads into a fresh
// Doc that holds the same state.
func fuzzApply(t *testing.T, data []byte, v2 bool) {
	d := NewDoc(Options{ClientID: 1})
	d.Text("t").Insert(0, "base", nil)
	var err error
	if v2 {
		err = d.ApplyUpdateV2(data)
	} else {
		err = d.ApplyUpdate(data)
	}
	if err != nil {
		return
	}
	state, err := d.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatalf("accepted update, then v1 encoding fails: %v", err)
	}
	stateV2, err := d.EncodeStateAsUpdateV2(nil)
	if err != nil {
		t.Fatalf("accepted update, then v2 encoding fails: %v", err)
	}
	d1 := NewDoc(Options{ClientID: 2})
	if err := d1.ApplyUpdate(state); err != nil {
		t.Fatalf("own v1 state rejected: %v", err)
	}
	d2 := NewDoc(Options{ClientID: 2})
	if err := d2.ApplyUpdateV2(stateV2); err != nil {
		t.Fatalf("own v2 state rejected: %v", err)
	}
	// The original knows "t" as a Text; a copy must be told, or it
	// guesses the kind from the content when printing it.
	d1.Text("t")
	d2.Text("t")
	// Both encodings say the same.
	k1, k2 := sameStateKey(t, d1), sameStateKey(t, d2)
	if k1 != k2 {
		t.Fatalf("v1 and v2 states load differently:\nv1 %s\nv2 %s", k1, k2)
	}
	if !consistent(data, v2, map[uint64][]deleteRange{1: {{0, 4}}}) {
		// A forgery no honest peer sends. Where the content goes then
		// depends on how the receiver's items happen to be split, in yjs
		// too, so a copy may show it elsewhere; encoding must still work,
		// and did.
		return
	}
	if os.Getenv("QUIRE_FUZZ_LAX") != "" {
		// CI's short fuzz runs (scripts/fuzz.sh) stop here: what a server
		// relies on is checked above. That a copy holds the same content
		// fails for every new kind of forgery the fuzzer invents, as it
		// does in yjs, so it is explored by hand (FUZZ_ALL=1) and its
		// findings are kept as seeds, which go test replays with it on.
		return
	}
	if want := sameStateKey(t, d); k1 != want {
		t.Fatalf("state loads into another state:\n got %s\nwant %s", k1, want)
	}
}

// consistent reports whether update is free of the forgeries that make
// replicas disagree: two structs (of update, or one of update and one of
// the clock ranges in have) claiming one ID, a struct whose right origin
// is its origin, and one whose right origin lies at or before its origin
// in a range of have (each range of have is text typed left to right, so
// its clock order is its order in the document).
func consistent(update []byte, v2 bool, have map[uint64][]deleteRange) bool {
	ranges := map[uint64][]deleteRange{}
	for c, rs := range have {
		ranges[c] = append(ranges[c], rs...)
	}
	r := newLazyReader(newDecoder(update, v2), newReadBudget(len(update)), false)
	for s := r.curr(); s != nil; s = r.next() {
		ranges[s.id.Client] = append(ranges[s.id.Client], deleteRange{s.id.Clock, s.length})
		if s.has(flagOrigin) && s.has(flagRightOrigin) {
			if s.origin == s.rightOrigin {
				return false
			}
			if s.origin.Client == s.rightOrigin.Client && s.rightOrigin.Clock < s.origin.Clock {
				for _, r := range have[s.origin.Client] {
					if r.clock <= s.rightOrigin.Clock && s.origin.Clock < r.clock+r.len {
						return false // right origin left of origin
					}
				}
			}
		}
	}
	if r.err != nil {
		return false
	}
	for _, rs := range ranges {
		slices.SortFunc(rs, func(a, b deleteRange) int { return cmp.Compare(a.clock, b.clock) })
		for i := 1; i < len(rs); i++ {
			if rs[i-1].clock+rs[i-1].len > rs[i].clock {
				return false
			}
		}
	}
	return true
}

// sameStateKey sums up what two replicas of one document must agree on:
// content, state vector, and what they still wait for.
func sameStateKey(t *testing.T, d *Doc) string {
	t.Helper()
	// Roots are compared by name: their order is the order they arrived in.
	all := d.ToJSON()
	roots := lib0.NewObject()
	for _, name := range slices.Sorted(slices.Values(all.Keys())) {
		v, _ := all.Get(name)
		roots.Set(name, v)
	}
	json, err := lib0.ExportJSON(roots)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s sv=%v", json, d.StateVector())
}

// FuzzDecodeStateVector: no panic, and what decodes encodes back the same.
func FuzzDecodeStateVector(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 1, 3})
	f.Add([]byte{2, 0x80, 0x80, 0x80, 0x80, 0x08, 5, 7, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		sv, err := DecodeStateVector(data)
		if err != nil {
			return
		}
		if _, err := DecodeStateVector(EncodeStateVector(sv)); err != nil {
			t.Fatal(err)
		}
	})
}
