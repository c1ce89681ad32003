package render

import (
	"strings"
	"testing"

	"github.com/quirehq/quire/crdt"
)

// A document of the Tiptap golden, 100 times over (~100 KB of Markdown).
func benchMarkdown(b *testing.B) string {
	b.Helper()
	return strings.Repeat(golden(b, "tiptap.md")+"\n", 100)
}

func BenchmarkImportMarkdown(b *testing.B) {
	md := benchMarkdown(b)
	b.SetBytes(int64(len(md)))
	for b.Loop() {
		doc := crdt.NewDoc(crdt.Options{})
		if err := ImportMarkdown(doc, "", md); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExport(b *testing.B) {
	md := benchMarkdown(b)
	doc := crdt.NewDoc(crdt.Options{})
	if err := ImportMarkdown(doc, "", md); err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		name string
		fn   func(*crdt.Doc, string) (string, error)
	}{{"markdown", Markdown}, {"html", HTML}, {"text", Text}} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(md)))
			for b.Loop() {
				if _, err := f.fn(doc, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
