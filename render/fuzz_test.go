package render

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
		defer watchdog(t, 10*time.Second)()
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
	})
}

// watchdog fails the fuzz input (with a stack dump of where it is stuck)
// if the test runs longer than d; call the function it returns when done.
func watchdog(t *testing.T, d time.Duration) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(d):
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			panic(fmt.Sprintf("%s: still running after %v\n%s", t.Name(), d, buf))
		}
	}()
	return func() { close(done) }
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

// FuzzMarkdownExport builds documents a Tiptap client could store (from
// the fuzzer's bytes), and checks that their Markdown reads back with the
// same text in the same blocks, and that exporting again changes nothing.
func FuzzMarkdownExport(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte{4, 1, 2, 3, 7, 9, 200, 17, 5, 5, 5, 1, 0, 8, 8})
	f.Add([]byte("\x07\x07\x07\x04\x04\x05\x06\x01\x02\x03\x08\x09"))
	f.Fuzz(func(t *testing.T, b []byte) {
		defer watchdog(t, 10*time.Second)()
		g := &docGen{b: b}
		doc := crdt.NewDoc(crdt.Options{})
		var err error
		ns := g.blocks(0)
		doc.Transact(func() { err = writeChildren(doc.XmlFragment("default"), ns) })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := HTML(doc, ""); err != nil {
			t.Fatal(err)
		}
		md1 := mustMarkdown(t, doc)
		md2, back := importExport(t, md1)
		if md1 != md2 {
			t.Fatalf("not a fixed point:\nfrag  %s\nfirst %q\nthen  %q", doc.XmlFragment("default").String(), md1, md2)
		}
		want, got := blockTexts(doc), blockTexts(back)
		if strings.Join(want, "\x00") != strings.Join(got, "\x00") {
			t.Fatalf("text changed:\nfrag %s\nmd   %q\nwant %q\ngot  %q", doc.XmlFragment("default").String(), md1, want, got)
		}
		want, got = blockMarks(doc), blockMarks(back)
		if strings.Join(want, "\x00") != strings.Join(got, "\x00") {
			t.Fatalf("marks changed:\nfrag %s\nmd   %q\nwant %q\ngot  %q", doc.XmlFragment("default").String(), md1, want, got)
		}
	})
}

// blockTexts lists the text of each non-empty textblock, hard breaks as
// "\n", without the hard breaks that end a block (they show nothing).
func blockTexts(doc *crdt.Doc) []string {
	var out []string
	var walk func([]*node)
	walk = func(ns []*node) {
		for _, n := range blocks(ns) {
			switch {
			case isTextblock(n):
				if s := strings.TrimRight(inlineText(n.content), "\n"); s != "" || n.typ == tCodeBlock {
					out = append(out, s)
				}
			case n.typ == tBulletList || n.typ == tOrderedList || n.typ == tTaskList:
				for _, it := range items(n) {
					walk(it.content)
				}
			default:
				walk(n.content)
			}
		}
	}
	walk(fromFragment(doc.XmlFragment("default").Children()))
	return out
}

// blockMarks describes the formatting of each non-empty textblock: for
// every character the marks Markdown keeps on it (links by href and
// title), leaving out what Markdown normalizes away: emphasis on
// whitespace, links to unsafe URLs, trailing hard breaks.
func blockMarks(doc *crdt.Doc) []string {
	var out []string
	var walk func([]*node)
	walk = func(ns []*node) {
		for _, n := range blocks(ns) {
			switch {
			case isTextblock(n):
				var sb strings.Builder
				for _, l := range flattenInline(n.content) {
					if l.typ == tHardBreak {
						sb.WriteString("|br")
						continue
					}
					for _, r := range strings.ReplaceAll(l.text, "\r\n", "\n") {
						if r == '\n' || r == '\r' {
							sb.WriteString("|br")
							continue
						}
						sb.WriteString("|" + string(r))
						for _, m := range l.marks {
							switch {
							case emphasis(m.typ) && isMdSpace(r):
							case m.typ == mLink:
								h, _ := attrString(m.attrs, "href")
								ti, _ := attrString(m.attrs, "title")
								if safeLink(h) {
									sb.WriteString(" link(" + h + "," + ti + ")")
								}
							default:
								sb.WriteString(" " + m.typ)
							}
						}
					}
				}
				d := sb.String()
				for strings.HasSuffix(d, "|br") {
					d = strings.TrimSuffix(d, "|br")
				}
				if d != "" {
					out = append(out, d)
				}
			case n.typ == tBulletList || n.typ == tOrderedList || n.typ == tTaskList:
				for _, it := range items(n) {
					walk(it.content)
				}
			default:
				walk(n.content)
			}
		}
	}
	walk(fromFragment(doc.XmlFragment("default").Children()))
	return out
}

// docGen makes a document from bytes.
type docGen struct {
	b []byte
	i int
}

func (g *docGen) next() int {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return int(g.b[g.i-1])
}

var (
	genWords = []string{"a", "word", " ", "  ", "*", "**", "_", "x_y", "[", "]", "(", ")", "!", "\\", "`", "``", "#", "1.", "2)", "-", "+", "=", ">", "<", "<u>", "</u>", "&amp;", "&", "~", "~~", "|", "\t", "é", "日本", "😀", "\u00a0", "---", "***", "- [ ]", "http://x.y", "<!-- c -->", "\n"}
	genHrefs = []string{"https://example.com/", "/rel path", "a(b", "javascript:alert(1)", "mailto:m@x.y", "#frag", "<>", "x\"y", "a\x01b", "a\u00a0b", "&amp;", "a\\(b", ""}
	genMarks = []string{mBold, mItalic, mStrike, mCode, mUnderline, mLink, mHighlight, mSubscript, mSuperscript}
	genLangs = []string{"", "go", "a b", "c`d", "\\&amp;"}
	genCode  = []string{"", "x := 1", "```", "a\n\nb", " lead", "~~~\n```"}
)

func (g *docGen) inline() []*node {
	var out []*node
	for k := g.next() % 6; k > 0; k-- {
		c := g.next()
		if c%9 == 0 {
			out = append(out, &node{typ: tHardBreak})
			continue
		}
		n := &node{typ: tText, text: genWords[g.next()%len(genWords)] + genWords[c%len(genWords)]}
		for m := g.next(); m > 0; m >>= 1 {
			if m&1 == 1 {
				typ := genMarks[g.next()%len(genMarks)]
				if hasMark(n.marks, typ) {
					continue
				}
				mk := mark{typ: typ}
				if typ == mLink {
					mk.attrs = linkAttrs(genHrefs[g.next()%len(genHrefs)], "")
				}
				n.marks = append(n.marks, mk)
			}
		}
		sortMarks(n.marks)
		out = append(out, n)
	}
	return out
}

func (g *docGen) blocks(depth int) []*node {
	var out []*node
	n := g.next() % 4
	if depth == 0 {
		n++
	}
	for ; n > 0; n-- {
		switch g.next() % 10 {
		case 0, 1, 2:
			out = append(out, &node{typ: tParagraph, content: g.inline()})
		case 3:
			out = append(out, &node{typ: tHeading, attrs: obj("level", float64(1+g.next()%6)), content: g.inline()})
		case 4, 5, 6:
			if depth > 3 {
				continue
			}
			list := []string{tBulletList, tOrderedList, tTaskList}[g.next()%3]
			l := &node{typ: list}
			if list == tOrderedList {
				l.attrs = obj("start", float64(g.next()%12))
			}
			for k := 1 + g.next()%3; k > 0; k-- {
				it := &node{typ: tListItem, content: []*node{{typ: tParagraph, content: g.inline()}}}
				if list == tTaskList {
					it.typ = tTaskItem
					it.attrs = obj("checked", g.next()%2 == 0)
				}
				if g.next()%2 == 0 {
					it.content = append(it.content, g.blocks(depth+1)...)
				}
				l.content = append(l.content, it)
			}
			out = append(out, l)
		case 7:
			if depth > 3 {
				continue
			}
			bq := &node{typ: tBlockquote, content: g.blocks(depth + 1)}
			if len(bq.content) == 0 {
				bq.content = []*node{{typ: tParagraph}}
			}
			out = append(out, bq)
		case 8:
			cb := &node{typ: tCodeBlock}
			if l := genLangs[g.next()%len(genLangs)]; l != "" {
				cb.attrs = obj("language", l)
			}
			if c := genCode[g.next()%len(genCode)]; c != "" {
				cb.content = []*node{{typ: tText, text: c}}
			}
			out = append(out, cb)
		case 9:
			if g.next()%2 == 0 {
				out = append(out, &node{typ: tRule})
			} else {
				out = append(out, &node{typ: tImage, attrs: obj("src", genHrefs[g.next()%len(genHrefs)], "alt", genWords[g.next()%len(genWords)])})
			}
		}
	}
	return out
}

// FuzzQuill builds Quill deltas from bytes: they render in every format,
// and their Markdown, imported into a Quill text, exports as a fixed point.
func FuzzQuill(f *testing.F) {
	f.Add([]byte("quill"))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		defer watchdog(t, 10*time.Second)()
		g := &docGen{b: b}
		inline := []attrs{nil, {{"bold", true}}, {{"italic", true}}, {{"code", true}}, {{"link", "https://x.y/"}}, {{"strike", true}, {"underline", true}}, {{"script", "super"}}, {{"link", "javascript:x"}, {"bold", true}}}
		line := []attrs{nil, {{"header", 2.0}}, {{"list", "bullet"}}, {{"list", "ordered"}, {"indent", 1.0}}, {{"list", "checked"}}, {{"list", "unchecked"}, {"indent", 2.0}}, {{"blockquote", true}}, {{"code-block", "go"}}, {{"code-block", true}}, {{"list", "bullet"}, {"indent", 3.0}}}
		var runs []textRun
		for k := g.next() % 24; k > 0; k-- {
			switch c := g.next(); c % 4 {
			case 0:
				runs = append(runs, textRun{text: "\n", attrs: line[g.next()%len(line)].crdt()})
			case 1:
				if c%8 == 1 {
					runs = append(runs, textRun{embed: obj("image", genHrefs[g.next()%len(genHrefs)]), attrs: attrs(nil).crdt()})
				} else {
					runs = append(runs, textRun{embed: obj("formula", "x^2"), attrs: attrs(nil).crdt()})
				}
			default:
				runs = append(runs, textRun{text: genWords[g.next()%len(genWords)], attrs: inline[g.next()%len(inline)].crdt()})
			}
		}
		doc := crdt.NewDoc(crdt.Options{})
		if err := writeRuns(doc.Text("quill"), runs); err != nil {
			t.Fatal(err)
		}
		if _, err := HTML(doc, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := Text(doc, ""); err != nil {
			t.Fatal(err)
		}
		md1 := mustMarkdown(t, doc)
		md2 := quillTrip(t, md1)
		if md3 := quillTrip(t, md2); md2 != md3 {
			t.Fatalf("not a fixed point:\nmd1 %q\nmd2 %q\nmd3 %q", md1, md2, md3)
		}
	})
}

func quillTrip(t *testing.T, md string) string {
	t.Helper()
	doc := crdt.NewDoc(crdt.Options{})
	if err := ImportMarkdown(doc, "quill", md); err != nil {
		t.Fatal(err)
	}
	return mustMarkdown(t, doc)
}
