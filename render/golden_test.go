package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quirehq/quire/crdt"
)

// The goldens in testdata are written by hand from what the editors show;
// the .yjs inputs are made from the .json ones by the real editor libraries
// (testdata/gen/fixtures.mjs), which also checks tiptap.html against
// Tiptap's own getHTML().

func loadDoc(t testing.TB, name string) *crdt.Doc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	doc := crdt.NewDoc(crdt.Options{})
	if err := doc.ApplyUpdate(b); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

func golden(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		fixture, field, base string
	}{
		{"tiptap.yjs", "", "tiptap"},
		{"tiptap.yjs", "default", "tiptap"},
		{"quill.yjs", "", "quill"},
		{"quill.yjs", "quill", "quill"},
	} {
		t.Run(tc.base+"/"+tc.field, func(t *testing.T) {
			doc := loadDoc(t, tc.fixture)
			md, err := Markdown(doc, tc.field)
			if err != nil {
				t.Fatal(err)
			}
			if want := golden(t, tc.base+".md"); md != want {
				t.Errorf("Markdown:\n%s\nwant:\n%s\ndiff: %s", md, want, firstDiff(md, want))
			}
			html, err := HTML(doc, tc.field)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(golden(t, tc.base+".html"), "\n"); html != want {
				t.Errorf("HTML:\n%s\nwant:\n%s\ndiff: %s", html, want, firstDiff(html, want))
			}
		})
	}
}

// firstDiff shows where two strings part.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-30)
	return "at byte " + itoa(i) + ": got …" + quote(a[from:min(len(a), i+30)]) + " want …" + quote(b[from:min(len(b), i+30)])
}
