package crdt

import (
	"runtime"
	"strings"
	"testing"
)

// TestXmlStringDeep: the XML string of a deeply nested tree is built in
// one pass. One string per level, copied into its parent's, made a
// 10,000-level tree (one 210 KB update) take seconds on the server, and
// stall every peer of the document meanwhile. The bytes allocated tell
// the two apart: quadratic copying of this tree allocates gigabytes.
func TestXmlStringDeep(t *testing.T) {
	const depth = 10000
	d := NewDoc(Options{ClientID: 1})
	parent := d.XmlFragment("default")
	var node *XmlFragment = parent
	for i := 0; i < depth; i++ {
		el := NewXmlElement("blockquote")
		if err := node.Insert(0, el); err != nil {
			t.Fatal(err)
		}
		node = &el.XmlFragment
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := parent.String()
	runtime.ReadMemStats(&after)
	if want := strings.Repeat("<blockquote>", depth) + strings.Repeat("</blockquote>", depth); s != want {
		t.Fatalf("string of %d bytes, want %d", len(s), len(want))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("String allocated %d MB for a %d-byte result", alloc>>20, len(s))
	}
}
