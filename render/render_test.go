package render

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

// build writes nodes into a new document's XmlFragment "default", as a
// y-prosemirror client would have stored them.
func build(t *testing.T, ns ...*node) *crdt.Doc {
	t.Helper()
	doc := crdt.NewDoc(crdt.Options{})
	f := doc.XmlFragment("default")
	var err error
	doc.Transact(func() { err = writeChildren(f, ns) })
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func p(content ...*node) *node { return &node{typ: tParagraph, content: content} }

func txt(s string, ms ...mark) *node { return &node{typ: tText, text: s, marks: ms} }

func el(typ string, attrs *lib0.Object, content ...*node) *node {
	return &node{typ: typ, attrs: attrs, content: content}
}

func link(href string) mark { return mark{typ: mLink, attrs: linkAttrs(href, "")} }

func mustHTML(t *testing.T, doc *crdt.Doc) string {
	t.Helper()
	s, err := HTML(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustMarkdown(t *testing.T, doc *crdt.Doc) string {
	t.Helper()
	s, err := Markdown(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const linkOpen = `<a target="_blank" rel="noopener noreferrer nofollow" href=`

func TestHTMLEscaping(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *node
		want string
	}{
		{"script text", p(txt(`<script>alert("x")</script> & ' " ` + "\u00a0")),
			`<p>&lt;script&gt;alert("x")&lt;/script&gt; &amp; ' " &nbsp;</p>`},
		{"javascript link", p(txt("a", link("javascript:alert(1)"))), `<p>` + linkOpen + `"">a</a></p>`},
		{"javascript link, mixed case", p(txt("a", link("JaVaScRiPt:alert(1)"))), `<p>` + linkOpen + `"">a</a></p>`},
		{"javascript link, leading space", p(txt("a", link(" \x01javascript:alert(1)"))), `<p>` + linkOpen + `"">a</a></p>`},
		{"javascript link, tab inside", p(txt("a", link("java\tscript:alert(1)"))), `<p>` + linkOpen + `"">a</a></p>`},
		{"vbscript link", p(txt("a", link("vbscript:msgbox"))), `<p>` + linkOpen + `"">a</a></p>`},
		{"data link", p(txt("a", link("data:text/html,<script>alert(1)</script>"))), `<p>` + linkOpen + `"">a</a></p>`},
		{"mailto link", p(txt("a", link("mailto:me@example.com"))), `<p>` + linkOpen + `"mailto:me@example.com">a</a></p>`},
		{"relative link", p(txt("a", link("docs/x?y=1&z=2#f"))), `<p>` + linkOpen + `"docs/x?y=1&amp;z=2#f">a</a></p>`},
		{"quote in href", p(txt("a", link(`https://x/"onmouseover="alert(1)`))),
			`<p>` + linkOpen + `"https://x/&quot;onmouseover=&quot;alert(1)">a</a></p>`},
		{"link attributes", p(txt("a", mark{typ: mLink, attrs: obj("href", "/x", "target", `_self" onclick="x`, "rel", nil, "class", "c<", "title", "t&")})),
			`<p><a target="_self&quot; onclick=&quot;x" class="c&lt;" href="/x" title="t&amp;">a</a></p>`},
		{"link without stored defaults", p(txt("a", mark{typ: mLink, attrs: obj("href", "/x")})), `<p>` + linkOpen + `"/x">a</a></p>`},
		{"javascript image", el(tImage, obj("src", "javascript:alert(1)", "alt", "x")), `<img alt="x">`},
		{"svg data image", el(tImage, obj("src", "data:image/svg+xml,<svg onload=alert(1)>")), `<img>`},
		{"png data image", el(tImage, obj("src", "data:image/png;base64,iVBOR", "alt", `"><script>`)), `<img src="data:image/png;base64,iVBOR" alt="&quot;&gt;&lt;script&gt;">`},
		{"code language", el(tCodeBlock, obj("language", `x"><script>alert(1)</script>`), txt("<b>")),
			`<pre><code class="language-x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&lt;b&gt;</code></pre>`},
		{"heading level out of range", el(tHeading, obj("level", 9.0), txt("h")), `<h1>h</h1>`},
		{"heading level not a number", el(tHeading, obj("level", "<script>"), txt("h")), `<h1>h</h1>`},
		{"heading level as string", el(tHeading, obj("level", "3"), txt("h")), `<h3>h</h3>`},
		{"ordered list attrs", el(tOrderedList, obj("start", `1"><script>`, "type", `a" onclick="x`), el(tListItem, nil, p(txt("i")))),
			`<ol type="a&quot; onclick=&quot;x"><li><p>i</p></li></ol>`},
		{"unknown element", el("script", nil, txt("alert(1)")), `<p>alert(1)</p>`},
		{"unknown element with blocks", el("details", nil, p(txt("a")), p(txt("b"))), `<p>a</p><p>b</p>`},
		{"unknown mark", p(txt("x", mark{typ: "script"})), `<p>x</p>`},
		{"highlight colour", p(txt("x", mark{typ: mHighlight, attrs: obj("color", "#ff0")})),
			`<p><mark data-color="#ff0" style="background-color: #ff0; color: inherit">x</mark></p>`},
		{"highlight colour injection", p(txt("x", mark{typ: mHighlight, attrs: obj("color", `red;background:url(javascript:x)" onclick="y`)})),
			`<p><mark>x</mark></p>`},
		{"list item outside a list", el(tListItem, nil, p(txt("a"))), `<ul><li><p>a</p></li></ul>`},
		{"text directly in a list", el(tBulletList, nil, p(txt("a"))), `<ul><li><p>a</p></li></ul>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustHTML(t, build(t, tc.in)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Markdown that another renderer turns into HTML (raw HTML allowed, as
// many do) carries no script and no dangerous URL from the document.
func TestMarkdownInjection(t *testing.T) {
	doc := build(t,
		p(txt(`<script>alert(1)</script> <img src=x onerror=alert(1)> [click](javascript:alert(1)) ![i](javascript:alert(1)) <javascript:alert(1)>`)),
		p(txt("bad link", link("javascript:alert(1)"))),
		p(txt("sneaky", link("https://x/) <script>alert(1)</script>"))),
		p(txt("titled", mark{typ: mLink, attrs: linkAttrs("/x", `" onclick="alert(1)`)})),
		el(tImage, obj("src", "javascript:alert(1)", "alt", "<script>alert(1)</script>")),
		el(tImage, obj("src", "/ok.png", "alt", "](javascript:alert(1))", "title", `"><script>alert(1)</script>`)),
		el(tCodeBlock, obj("language", "js\n<script>"), txt("```\n<script>alert(1)</script>")),
		el(tHeading, obj("level", 2.0), txt("<script>alert(1)</script> #")),
	)
	md := mustMarkdown(t, doc)
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	if err := gm.Convert([]byte(md), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.ToLower(out.String())
	for _, bad := range []string{"<script", "<img src=x", `href="javascript`, `src="javascript`, `" onclick="`} {
		if strings.Contains(h, bad) {
			t.Errorf("rendered Markdown contains %q:\n%s\nMarkdown:\n%s", bad, out.String(), md)
		}
	}
	// And it reads back as the same text.
	back := crdt.NewDoc(crdt.Options{})
	if err := ImportMarkdown(back, "", md); err != nil {
		t.Fatal(err)
	}
	if got := mustMarkdown(t, back); got != md {
		t.Errorf("not stable:\n%s\nthen\n%s", md, got)
	}
}

func TestMarkdownEscaping(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []*node
		want string
	}{
		{"specials", []*node{p(txt(`*a* _b_ [c](d) <e> ` + "`f` ~g~ \\ h_i &amp; &#1; & x"))},
			"\\*a\\* \\_b\\_ \\[c\\](d) \\<e> \\`f\\` \\~g\\~ \\\\ h_i \\&amp; \\&#1; & x\n"},
		{"line starts", []*node{p(txt("# a")), p(txt("- b")), p(txt("+ c")), p(txt("> d")), p(txt("1. e")), p(txt("2) f")), p(txt("===")), p(txt("    code?"))},
			"\\# a\n\n\\- b\n\n\\+ c\n\n\\> d\n\n1\\. e\n\n2\\) f\n\n\\===\n\n&#32;   code?\n"},
		{"after a hard break", []*node{p(txt("a"), el(tHardBreak, nil), txt("# b"), el(tHardBreak, nil), txt("---"))},
			"a\\\n\\# b\\\n\\---\n"},
		{"trailing hard break", []*node{p(txt("a"), el(tHardBreak, nil))}, "a\n"},
		{"newline in text", []*node{p(txt("a\nb"))}, "a\\\nb\n"},
		{"spaces at mark edges", []*node{p(txt("a"), txt(" b ", mark{typ: mBold}), txt("c"))}, "a **b** c\n"},
		{"punctuation at mark edges", []*node{p(txt("a"), txt("(b)", mark{typ: mItalic}), txt("c"))}, "a<em>(b)</em>c\n"},
		{"unsafe link keeps text", []*node{p(txt("go "), txt("here", link("javascript:x")))}, "go here\n"},
		{"code and bold", []*node{p(txt("x", mark{typ: mBold}, mark{typ: mCode}))}, "**`x`**\n"},
		{"empty paragraphs", []*node{p(), p(txt("a")), p(), p()}, "a\n"},
		{"empty heading", []*node{el(tHeading, obj("level", 2.0))}, "##\n"},
		{"empty item", []*node{el(tBulletList, nil, el(tListItem, nil, p()))}, "-\n"},
		{"empty task", []*node{el(tTaskList, nil, el(tTaskItem, obj("checked", false), p()))}, "- [ ]\n"},
		{"rule in item", []*node{el(tBulletList, nil, el(tListItem, nil, el(tRule, nil)))}, "-\n  ---\n"},
		{"code with tildes in language", []*node{el(tCodeBlock, obj("language", "a`b"), txt("x"))}, "~~~a`b\nx\n~~~\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustMarkdown(t, build(t, tc.in...)); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestRoots(t *testing.T) {
	empty := crdt.NewDoc(crdt.Options{})
	for _, f := range []func(*crdt.Doc, string) (string, error){Markdown, HTML, Text} {
		if s, err := f(empty, ""); s != "" || err != nil {
			t.Errorf("empty doc: %q, %v", s, err)
		}
	}

	maps := crdt.NewDoc(crdt.Options{})
	if err := maps.Map("config").Set("a", 1.0); err != nil {
		t.Fatal(err)
	}
	if err := maps.Array("list").Push("x"); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"", "config", "list"} {
		_, err := Markdown(maps, field)
		var fe *FieldError
		if !errors.Is(err, ErrUnsupported) || !errors.As(err, &fe) {
			t.Errorf("field %q of a map/array doc: %v", field, err)
		}
	}
	if _, err := HTML(maps, "config"); err == nil || !strings.Contains(err.Error(), "Map") {
		t.Errorf("error should name the kind: %v", err)
	}
	if _, err := Text(maps, "nope"); !errors.Is(err, ErrNoField) {
		t.Errorf("missing field: %v", err)
	}
	if err := ImportMarkdown(maps, "config", "x"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("import into a map: %v", err)
	}
	// Without a field, an import beside maps goes to "default".
	if err := ImportMarkdown(maps, "", "*x*"); err != nil {
		t.Fatal(err)
	}
	if got, _ := Markdown(maps, ""); got != "*x*\n" {
		t.Errorf("import beside a map: %q", got)
	}

	// Several text roots: well-known names win, in order; else the first.
	multi := crdt.NewDoc(crdt.Options{})
	_ = multi.Text("zeta").Insert(0, "z", nil)
	_ = multi.Text("codemirror").Insert(0, "code", nil)
	_ = multi.XmlFragment("prosemirror").Insert(0, crdt.NewXmlElement(tParagraph))
	if name, kind, err := Root(multi, ""); name != "prosemirror" || kind != "XmlFragment" || err != nil {
		t.Errorf("Root = %q %q %v", name, kind, err)
	}
	other := crdt.NewDoc(crdt.Options{})
	_ = other.Text("b").Insert(0, "b", nil)
	_ = other.Text("a").Insert(0, "a", nil)
	if name, _, _ := Root(other, ""); name != "b" {
		t.Errorf("Root = %q, want the first root", name)
	}
	if s, _ := Text(other, "a"); s != "a" {
		t.Errorf("Text(a) = %q", s)
	}
}

func TestPlainText(t *testing.T) {
	doc := crdt.NewDoc(crdt.Options{})
	const src = "# Title\n<b>x</b> & *y*\n"
	if err := doc.Text("codemirror").Insert(0, src, nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := Markdown(doc, ""); s != src {
		t.Errorf("Markdown = %q", s)
	}
	if s, _ := HTML(doc, ""); s != "<pre># Title\n&lt;b&gt;x&lt;/b&gt; &amp; *y*\n</pre>" {
		t.Errorf("HTML = %q", s)
	}
	if s, _ := Text(doc, ""); s != src {
		t.Errorf("Text = %q", s)
	}
	// A Markdown import into a plain text root keeps the source.
	if err := ImportMarkdown(doc, "codemirror", "new *source*"); err != nil {
		t.Fatal(err)
	}
	if s := doc.Text("codemirror").String(); s != "new *source*" {
		t.Errorf("after import: %q", s)
	}
}

func TestTextFormat(t *testing.T) {
	doc := loadDoc(t, "tiptap.yjs")
	s, err := Text(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Quire export test\n\nPlain text with bold, ", "Line one\nline two\nline three\n\nLists\n\nFirst\n\nSecond\n\nNested A", "func main() {\n\tfmt.Println"} {
		if !strings.Contains(s, want) {
			t.Errorf("Text lacks %q:\n%s", want, s)
		}
	}
	q, _ := Text(loadDoc(t, "quill.yjs"), "")
	if !strings.HasPrefix(q, "Quill document\nSome bold, italic") || !strings.Contains(q, "\n\n\nFormula  and") {
		t.Errorf("quill Text = %q", q)
	}
}

func TestImportText(t *testing.T) {
	doc := crdt.NewDoc(crdt.Options{})
	if err := ImportText(doc, "", "first *line*\r\n\nthird <b>\n"); err != nil {
		t.Fatal(err)
	}
	if got := mustHTML(t, doc); got != "<p>first *line*</p><p></p><p>third &lt;b&gt;</p>" {
		t.Errorf("HTML = %s", got)
	}
	// It replaces the content, in one transaction.
	updates := 0
	doc.OnUpdate(func([]byte) { updates++ })
	if err := ImportText(doc, "default", "only"); err != nil {
		t.Fatal(err)
	}
	if got := mustHTML(t, doc); got != "<p>only</p>" || updates != 1 {
		t.Errorf("HTML = %s after %d updates", got, updates)
	}
	if err := ImportMarkdown(doc, "", "# md\n\ntext"); err != nil {
		t.Fatal(err)
	}
	if got := mustHTML(t, doc); got != "<h1>md</h1><p>text</p>" || updates != 2 {
		t.Errorf("HTML = %s after %d updates", got, updates)
	}

	// A Text root gets the text as it is.
	tdoc := crdt.NewDoc(crdt.Options{})
	if err := ImportText(tdoc, "content", "a\nb"); err != nil {
		t.Fatal(err)
	}
	if err := ImportText(tdoc, "content", "c\nd"); err != nil {
		t.Fatal(err)
	}
	if s := tdoc.Text("content").String(); s != "c\nd" || tdoc.RootKind("content") != "Text" {
		t.Errorf("content = %q (%s)", s, tdoc.RootKind("content"))
	}
}

// Markdown imported into a Quill text reads back as the same Markdown.
func TestImportQuill(t *testing.T) {
	md := golden(t, "quill.md")
	doc := crdt.NewDoc(crdt.Options{})
	if err := ImportMarkdown(doc, "quill", md); err != nil {
		t.Fatal(err)
	}
	if doc.RootKind("quill") != "Text" {
		t.Fatalf("quill is a %s", doc.RootKind("quill"))
	}
	if got := mustMarkdown(t, doc); got != md {
		t.Errorf("got\n%s\nwant\n%s\n%s", got, md, firstDiff(got, md))
	}
	// The fixture, rich already, is replaced through its delta too.
	q := loadDoc(t, "quill.yjs")
	if err := ImportMarkdown(q, "", "**new**\n"); err != nil {
		t.Fatal(err)
	}
	if got := q.Text("quill").ToDelta(); len(got) != 2 || got[0].Insert != "new" || got[1].Insert != "\n" {
		t.Errorf("delta = %+v", got)
	}
}

// A fragment emptied by an import and reloaded holds deleted items only,
// which crdt takes for a Text; importing into it again must still write a
// fragment, as the Tiptap clients on it expect.
func TestImportIntoEmptiedFragment(t *testing.T) {
	doc := crdt.NewDoc(crdt.Options{})
	if err := ImportMarkdown(doc, "", "# a\n\nb"); err != nil {
		t.Fatal(err)
	}
	if err := ImportText(doc, "", ""); err != nil {
		t.Fatal(err)
	}
	upd, err := doc.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, gc := range []bool{true, false} {
		re := crdt.NewDoc(crdt.Options{NoGC: !gc})
		if err := re.ApplyUpdate(upd); err != nil {
			t.Fatal(err)
		}
		// Rendering it first must not make it a Text.
		if s, err := Markdown(re, ""); s != "" || err != nil {
			t.Errorf("gc %v: Markdown = %q, %v", gc, s, err)
		}
		if s, err := Text(re, "default"); s != "" || err != nil {
			t.Errorf("gc %v: Text = %q, %v", gc, s, err)
		}
		if err := ImportMarkdown(re, "", "*c*"); err != nil {
			t.Fatal(err)
		}
		if k := re.RootKind("default"); k != "XmlFragment" {
			t.Errorf("gc %v: default is a %s", gc, k)
		}
		if got := mustHTML(t, re); got != "<p><em>c</em></p>" {
			t.Errorf("gc %v: %s", gc, got)
		}
	}
	// A root this Doc has typed a Text stays one.
	typed := crdt.NewDoc(crdt.Options{})
	typed.Text("default")
	if err := ImportMarkdown(typed, "default", "*c*"); err != nil {
		t.Fatal(err)
	}
	if s := typed.Text("default").String(); s != "*c*" {
		t.Errorf("typed text: %q", s)
	}
}
