package crdt

import (
	"testing"
)

// TestApplyUpdateCopiesText: the Doc keeps its own copy of decoded text, so
// a caller may overwrite the update after applying it, in either format.
func TestApplyUpdateCopiesText(t *testing.T) {
	src := NewDoc(Options{ClientID: 1})
	text := src.Text("t")
	if err := text.Insert(0, "héllo wörld 😀", nil); err != nil {
		t.Fatal(err)
	}
	if err := text.Insert(5, ",", nil); err != nil {
		t.Fatal(err)
	}
	want := text.String()
	v1 := mustState(t, src)
	v2, err := src.EncodeStateAsUpdateV2(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		update []byte
		apply  func(d *Doc, u []byte) error
	}{
		{"v1", v1, (*Doc).ApplyUpdate},
		{"v2", v2, (*Doc).ApplyUpdateV2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := append([]byte(nil), tc.update...)
			d := NewDoc(Options{ClientID: 2})
			if err := tc.apply(d, u); err != nil {
				t.Fatal(err)
			}
			for i := range u {
				u[i] = 'X'
			}
			if got := d.Text("t").String(); got != want {
				t.Fatalf("text %q after the update was overwritten, want %q", got, want)
			}
			// Typing next to decoded text appends to it when items merge;
			// that must not write into memory other items share.
			if err := d.Text("t").Insert(1, "ab", nil); err != nil {
				t.Fatal(err)
			}
			if err := d.Text("t").Insert(d.Text("t").Len(), "!", nil); err != nil {
				t.Fatal(err)
			}
			if got, want := d.Text("t").String(), want[:1]+"ab"+want[1:]+"!"; got != want {
				t.Fatalf("text %q, want %q", got, want)
			}
		})
	}
}
