package crdt

import "testing"

// TestPendingSize: what waits for missing structs is counted, grows with
// every update that adds to it, and is 0 again once the gap is filled.
func TestPendingSize(t *testing.T) {
	// src types three edits and deletes the first; ups[i] is edit i.
	src, ups := newTestDoc(3, true)
	text := src.Text("t")
	for _, s := range []string{"abc", "def", "ghi"} {
		if err := text.Insert(text.Len(), s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := text.Delete(0, 3); err != nil {
		t.Fatal(err)
	}
	u := *ups
	tests := []struct {
		name  string
		order []int // updates applied in this order
		// grows[i]: PendingSize after update i is larger than before it;
		// else it is 0.
		grows []bool
	}{
		{"in order", []int{0, 1, 2, 3}, []bool{false, false, false, false}},
		{"gap filled last", []int{1, 2, 0, 3}, []bool{true, true, false, false}},
		{"deletion first", []int{3, 0, 1, 2}, []bool{true, false, false, false}},
		{"deletion waits too", []int{2, 3, 1, 0}, []bool{true, true, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDoc(Options{ClientID: 9})
			if d.PendingSize() != 0 {
				t.Fatalf("new doc: PendingSize %d", d.PendingSize())
			}
			prev := 0
			for i, k := range tc.order {
				if err := d.ApplyUpdate(u[k]); err != nil {
					t.Fatal(err)
				}
				got := d.PendingSize()
				if tc.grows[i] && got <= prev {
					t.Fatalf("after update %d: PendingSize %d, want more than %d", k, got, prev)
				}
				if !tc.grows[i] && got != 0 {
					t.Fatalf("after update %d: PendingSize %d, want 0", k, got)
				}
				prev = got
			}
			if got, want := d.Text("t").String(), "defghi"; got != want {
				t.Fatalf("text %q, want %q", got, want)
			}
		})
	}
}
