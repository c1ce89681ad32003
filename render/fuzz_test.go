package render

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
)

// FuzzImportMarkdown: any input imports without error or panic, in
// bounded time, renders in every format, and what Markdown writes for the
// imported document reads back as the same document (export is a fixed
// point after one import).
func FuzzImportMarkdown(f *testing.F) {
	for _, tc := range roundTrips {
		f.Add(tc.md)
	}
	for _, name := range []string{"tiptap.md", "quill.md"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		"", "\n", "*", "**", "***a***", "*a **b***", "_a_b", "a*b*c", "**a**b", "[a]: /b\n\n[a]",
		"<script>alert(1)</script>", "[x](javascript:alert(1))", "![x](javascript:alert(1))",
		"<https://example.com>", "<me@example.com>", "> > > deep", "- - - -", "1) a\n2) b",
		"```\n", "~~~\na\n~~~", "    indented code", "a  \nb", "a\\\nb", "&#0; &#x110000; &bogus;",
		"<u>a<b>c</b></u>", "</u>stray", "- [ ]", "- [x] \n  - [ ] b", "# #", "#\n#", "a\r\nb\rc",
		"\x00", "\uFEFF#a", "| a | b |\n|---|---|\n| 1 | 2 |",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		if len(md) > 1<<14 {
			t.Skip()
		}
		start := time.Now()
		md1, doc := importExport(t, md)
		if _, err := HTML(doc, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := Text(doc, ""); err != nil {
			t.Fatal(err)
		}
		md2, _ := importExport(t, md1)
		if md1 != md2 {
			t.Errorf("not a fixed point:\ninput %q\nfirst %q\nthen  %q", md, md1, md2)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v for %d bytes", d, len(md))
		}
	})
}

func importExport(t *testing.T, md string) (string, *crdt.Doc) {
	t.Helper()
	doc := crdt.NewDoc(crdt.Options{})
	if err := ImportMarkdown(doc, "", md); err != nil {
		t.Fatal(err)
	}
	out, err := Markdown(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	return out, doc
}
