package render

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

// ImportMarkdown replaces the content of a root with a Markdown document,
// in one transaction, so connected editors see one change.
//
// The Markdown is read as CommonMark with GitHub's task lists and
// strikethrough (goldmark). Into an XmlFragment it writes the nodes and
// marks Tiptap's StarterKit, TaskList/TaskItem and Image extensions define,
// encoded as y-prosemirror encodes them, with the attributes Tiptap's schema
// gives them (so the editor sees exactly what it would have created):
// paragraphs, headings (level), bullet and ordered lists (start), task
// lists (checked), blockquotes, code blocks (language), rules, hard breaks,
// images (src, alt, title; an image is a block, as in Tiptap's default, so
// images in a paragraph are lifted out of it), and the marks bold, italic,
// strike, code, link (href, target, rel, class, title) and, from the
// inline HTML tags Markdown writes for them, underline, highlight,
// subscript and superscript (<u>, <mark>, <sub>, <sup>; also <strong>,
// <b>, <em>, <i>, <s>, <del>, <br>). HTML comments are dropped; other raw
// HTML is kept as text. Links and images with unsafe URLs are dropped (the
// link's text is kept). A soft line break becomes a space. A list item
// always starts with a paragraph (empty if the Markdown item starts with
// another block), as Tiptap's schema wants; task items and plain items of
// one Markdown list become separate lists.
//
// Into a rich Text (see the package documentation) it writes the same
// document as a Quill delta; into a plain Text, the Markdown source
// itself.
//
// An empty field picks the root as Markdown does, or "default" when the
// document has no text root; a root that does not exist is created, as a
// Text for the names "content", "codemirror", "monaco" and "quill", else as
// an XmlFragment.
func ImportMarkdown(doc *crdt.Doc, field string, md string) error {
	name, kind, err := importTarget(doc, field)
	if err != nil {
		return err
	}
	// CommonMark reads NUL as U+FFFD; so does HTML.
	md = strings.ReplaceAll(strings.ToValidUTF8(md, "\uFFFD"), "\x00", "\uFFFD")
	if kind == kindText {
		t := doc.Text(name)
		if name != "quill" && !richDelta(t.ToDelta()) {
			return replaceText(doc, t, md)
		}
		ops := toQuill(parseMarkdown(md))
		doc.Transact(func() { err = writeQuill(t, ops) })
		return err
	}
	ns := parseMarkdown(md)
	f := doc.XmlFragment(name)
	doc.Transact(func() { err = replaceFragment(f, ns) })
	return err
}

// ImportText replaces the content of a root with plain text, in one
// transaction: a Text gets the text without formatting; an XmlFragment gets
// one paragraph per line (a final newline does not start another). The
// root is chosen (and created) as ImportMarkdown chooses it.
func ImportText(doc *crdt.Doc, field string, text string) error {
	name, kind, err := importTarget(doc, field)
	if err != nil {
		return err
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	if kind == kindText {
		return replaceText(doc, doc.Text(name), text)
	}
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	text = strings.TrimSuffix(text, "\n")
	var ns []*node
	if text != "" {
		for _, l := range strings.Split(text, "\n") {
			p := &node{typ: tParagraph}
			if l != "" {
				p.content = []*node{{typ: tText, text: l}}
			}
			ns = append(ns, p)
		}
	}
	f := doc.XmlFragment(name)
	doc.Transact(func() { err = replaceFragment(f, ns) })
	return err
}

func replaceText(doc *crdt.Doc, t *crdt.Text, s string) error {
	var err error
	doc.Transact(func() {
		if err = t.Delete(0, t.Len()); err == nil {
			err = t.Insert(0, s, attrs(nil).crdt())
		}
	})
	return err
}

// Writing the model as y-prosemirror does.

// xmlParent is an XmlFragment or an XmlElement.
type xmlParent interface {
	Insert(index int, nodes ...any) error
}

func replaceFragment(f *crdt.XmlFragment, ns []*node) error {
	if err := f.Delete(0, f.Len()); err != nil {
		return err
	}
	return writeChildren(f, ns)
}

// writeChildren inserts nodes into an (integrated) parent: elements for
// element nodes, one XmlText for each run of text nodes. The children of a
// parent go in with one insert, as y-prosemirror puts them: XmlFragments
// keep no position cache, so inserting one by one would cost quadratic
// time.
func writeChildren(p xmlParent, ns []*node) error {
	type child struct {
		el   *crdt.XmlElement
		n    *node // for el
		t    *crdt.XmlText
		text []*node // for t
	}
	var kids []child
	var values []any
	for i := 0; i < len(ns); {
		if ns[i].typ == tText {
			c := child{t: crdt.NewXmlText()}
			for ; i < len(ns) && ns[i].typ == tText; i++ {
				c.text = append(c.text, ns[i])
			}
			kids = append(kids, c)
			values = append(values, c.t)
			continue
		}
		c := child{el: crdt.NewXmlElement(ns[i].typ), n: ns[i]}
		kids = append(kids, c)
		values = append(values, c.el)
		i++
	}
	if len(values) == 0 {
		return nil
	}
	if err := p.Insert(0, values...); err != nil {
		return err
	}
	for _, c := range kids {
		if c.t != nil {
			runs := make([]textRun, len(c.text))
			for k, n := range c.text {
				runs[k] = textRun{text: n.text, attrs: yMarks(n.marks)}
			}
			if err := writeRuns(&c.t.Text, runs); err != nil {
				return err
			}
			continue
		}
		if c.n.attrs != nil {
			for _, k := range c.n.attrs.Keys() {
				v, _ := c.n.attrs.Get(k)
				if v == nil {
					continue // y-prosemirror leaves null attributes out
				}
				if err := c.el.SetAttribute(k, v); err != nil {
					return err
				}
			}
		}
		if err := writeChildren(c.el, c.n.content); err != nil {
			return err
		}
	}
	return nil
}

// textRun is an insert into a Text: characters or an embed, formatted.
type textRun struct {
	text  string
	embed *lib0.Object
	attrs crdt.Attrs
}

// writeRuns fills an empty Text with runs. It appends them in order, as
// yjs's applyDelta does; but formatted text keeps no position cache, so
// each append walks the text, and for many runs it inserts the last run
// first, each at 0, which is linear (at the price of a few more format
// items than appending makes). crdt has no applyDelta to do it in one walk.
func writeRuns(t *crdt.Text, runs []textRun) error {
	insert := func(pos int, r textRun) error {
		if r.embed != nil {
			return t.InsertEmbed(pos, r.embed, r.attrs)
		}
		return t.Insert(pos, r.text, r.attrs)
	}
	if len(runs) <= 64 {
		pos := 0
		for _, r := range runs {
			if err := insert(pos, r); err != nil {
				return err
			}
			if r.embed != nil {
				pos++
			} else {
				pos += utf16Len(r.text)
			}
		}
		return nil
	}
	for k := len(runs) - 1; k >= 0; k-- {
		if err := insert(0, runs[k]); err != nil {
			return err
		}
	}
	return nil
}

// yMarks is y-prosemirror's marksToAttributes: each mark an attribute
// named after it, its value the mark's attrs ({} when it has none).
func yMarks(ms []mark) crdt.Attrs {
	var a attrs
	for _, m := range ms {
		if m.attrs == nil {
			a = append(a, kv{m.typ, lib0.NewObject()})
		} else {
			a = append(a, kv{m.typ, m.attrs})
		}
	}
	return a.crdt()
}

// Reading Markdown.

var markdown = goldmark.New(goldmark.WithExtensions(extension.Strikethrough, extension.TaskList))

// parseMarkdown reads Markdown into the model, shaped as Tiptap's schema
// wants it.
func parseMarkdown(md string) []*node {
	src := []byte(md)
	root := markdown.Parser().Parse(text.NewReader(src))
	im := &importer{src: src}
	return im.blocks(root)
}

type importer struct {
	src  []byte
	html []mark // marks opened by inline HTML tags in the current textblock
}

func (im *importer) blocks(parent ast.Node) []*node {
	var out []*node
	for c := parent.FirstChild(); c != nil; c = c.NextSibling() {
		out = append(out, im.block(c)...)
	}
	return out
}

func (im *importer) block(n ast.Node) []*node {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		return liftImages(&node{typ: tParagraph}, im.inlines(n))
	case *ast.Heading:
		return liftImages(&node{typ: tHeading, attrs: obj("level", float64(n.Level))}, im.inlines(n))
	case *ast.ThematicBreak:
		return []*node{{typ: tRule}}
	case *ast.FencedCodeBlock:
		cb := im.code(n)
		if n.Info != nil {
			info := unescape(n.Info.Segment.Value(im.src))
			if f := strings.Fields(info); len(f) > 0 {
				cb.attrs = obj("language", f[0])
			}
		}
		return []*node{cb}
	case *ast.CodeBlock:
		return []*node{im.code(n)}
	case *ast.Blockquote:
		bs := im.blocks(n)
		if len(bs) == 0 {
			bs = []*node{{typ: tParagraph}}
		}
		return []*node{{typ: tBlockquote, content: bs}}
	case *ast.List:
		return im.list(n)
	case *ast.HTMLBlock:
		if n.HTMLBlockType == ast.HTMLBlockType2 && isComment(strings.TrimSpace(string(n.Lines().Value(im.src)))+closure(n, im.src)) {
			return nil // a comment, as Markdown writes in an empty item
		}
		var lines []string
		segs := n.Lines()
		for i := 0; i < segs.Len(); i++ {
			s := segs.At(i)
			lines = append(lines, strings.TrimRight(string(s.Value(im.src)), "\r\n"))
		}
		if n.HasClosure() {
			lines = append(lines, strings.TrimRight(string(n.ClosureLine.Value(im.src)), "\r\n"))
		}
		p := &node{typ: tParagraph}
		for i, l := range lines {
			if i > 0 {
				p.content = append(p.content, &node{typ: tHardBreak})
			}
			if l != "" {
				p.content = append(p.content, &node{typ: tText, text: l})
			}
		}
		return []*node{p}
	}
	return im.blocks(n)
}

func (im *importer) code(n ast.Node) *node {
	var sb strings.Builder
	segs := n.Lines()
	for i := 0; i < segs.Len(); i++ {
		s := segs.At(i)
		sb.Write(s.Value(im.src))
	}
	t := strings.TrimSuffix(sb.String(), "\n")
	t = strings.ReplaceAll(t, "\r\n", "\n")
	cb := &node{typ: tCodeBlock}
	if t != "" {
		cb.content = []*node{{typ: tText, text: t}}
	}
	return cb
}

// liftImages makes a textblock of inline content, lifting images out of it
// (Tiptap's image is a block): text before, the image, text after; parts
// that lifting leaves blank are dropped.
func liftImages(block *node, inl []*node) []*node {
	cur := &node{typ: block.typ, attrs: block.attrs}
	var out []*node
	lifted := false
	for _, n := range inl {
		if n.typ != tImage {
			cur.content = append(cur.content, n)
			continue
		}
		lifted = true
		if strings.TrimSpace(inlineText(cur.content)) != "" {
			out = append(out, cur)
		}
		out = append(out, n)
		cur = &node{typ: block.typ, attrs: block.attrs}
	}
	if !lifted || strings.TrimSpace(inlineText(cur.content)) != "" {
		out = append(out, cur)
	}
	return out
}

func (im *importer) list(l *ast.List) []*node {
	type item struct {
		n       *ast.ListItem
		task    bool
		checked bool
	}
	var its []item
	for c := l.FirstChild(); c != nil; c = c.NextSibling() {
		li, ok := c.(*ast.ListItem)
		if !ok {
			continue
		}
		it := item{n: li}
		if p := li.FirstChild(); p != nil {
			if cb, ok := p.FirstChild().(*east.TaskCheckBox); ok {
				it.task, it.checked = true, cb.IsChecked
			}
		}
		its = append(its, it)
	}
	// Task items and plain items make separate lists, as in Tiptap.
	var out []*node
	for i := 0; i < len(its); {
		task := its[i].task
		var list *node
		switch {
		case task:
			list = &node{typ: tTaskList}
		case l.IsOrdered():
			list = &node{typ: tOrderedList, attrs: obj("start", float64(l.Start+i))}
		default:
			list = &node{typ: tBulletList}
		}
		for ; i < len(its) && its[i].task == task; i++ {
			bs := im.blocks(its[i].n)
			if len(bs) == 0 || bs[0].typ != tParagraph {
				bs = append([]*node{{typ: tParagraph}}, bs...)
			}
			it := &node{typ: tListItem, content: bs}
			if task {
				it.typ = tTaskItem
				it.attrs = obj("checked", its[i].checked)
			}
			list.content = append(list.content, it)
		}
		out = append(out, list)
	}
	return out
}

// inlines reads the inline content of a textblock.
func (im *importer) inlines(n ast.Node) []*node {
	im.html = nil
	var out []*node
	im.inline(n, nil, &out)
	return mergeLeaves(out)
}

func (im *importer) text(out *[]*node, s string, marks []mark) {
	if s == "" {
		return
	}
	ms := append(append([]mark(nil), marks...), im.html...)
	var uniq []mark
	for _, m := range ms {
		if !hasMark(uniq, m.typ) {
			uniq = append(uniq, m)
		}
	}
	sortMarks(uniq)
	*out = append(*out, &node{typ: tText, text: s, marks: uniq})
}

func with(marks []mark, m mark) []mark {
	return append(append([]mark(nil), marks...), m)
}

// linkAttrs are the attributes Tiptap's Link mark has, with its defaults.
func linkAttrs(href, title string) *lib0.Object {
	var t any
	if title != "" {
		t = title
	}
	return obj("href", href, "target", "_blank", "rel", "noopener noreferrer nofollow", "class", nil, "title", t)
}

func (im *importer) inline(parent ast.Node, marks []mark, out *[]*node) {
	for c := parent.FirstChild(); c != nil; c = c.NextSibling() {
		switch n := c.(type) {
		case *ast.Text:
			v := n.Segment.Value(im.src)
			if n.IsRaw() {
				im.text(out, string(v), marks)
			} else {
				im.text(out, unescape(v), marks)
			}
			if n.HardLineBreak() {
				*out = append(*out, &node{typ: tHardBreak})
			} else if n.SoftLineBreak() {
				im.text(out, " ", marks)
			}
		case *ast.String:
			if n.IsCode() || n.IsRaw() {
				im.text(out, string(n.Value), marks)
			} else {
				im.text(out, unescape(n.Value), marks)
			}
		case *ast.CodeSpan:
			var sb strings.Builder
			for t := n.FirstChild(); t != nil; t = t.NextSibling() {
				switch t := t.(type) {
				case *ast.Text:
					sb.Write(t.Segment.Value(im.src))
				case *ast.String:
					sb.Write(t.Value)
				}
			}
			s := newlinesToSpaces.Replace(sb.String())
			im.text(out, s, with(marks, mark{typ: mCode}))
		case *ast.Emphasis:
			typ := mItalic
			if n.Level >= 2 {
				typ = mBold
			}
			im.inline(n, with(marks, mark{typ: typ}), out)
		case *east.Strikethrough:
			im.inline(n, with(marks, mark{typ: mStrike}), out)
		case *ast.Link:
			href := unescape(n.Destination)
			if !safeLink(href) {
				im.inline(n, marks, out)
				continue
			}
			im.inline(n, with(marks, mark{typ: mLink, attrs: linkAttrs(href, unescape(n.Title))}), out)
		case *ast.AutoLink:
			label := string(n.Label(im.src))
			href := string(n.URL(im.src))
			if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(href), "mailto:") {
				href = "mailto:" + href
			}
			if safeLink(href) {
				im.text(out, label, with(marks, mark{typ: mLink, attrs: linkAttrs(href, "")}))
			} else {
				im.text(out, label, marks)
			}
		case *ast.Image:
			src := unescape(n.Destination)
			if !safeImage(src) {
				continue
			}
			var alt []*node
			sub := &importer{src: im.src}
			sub.inline(n, nil, &alt)
			at := obj("src", src)
			if a := inlineText(alt); a != "" {
				at.Set("alt", a)
			}
			if t := unescape(n.Title); t != "" {
				at.Set("title", t)
			}
			*out = append(*out, &node{typ: tImage, attrs: at})
		case *ast.RawHTML:
			var sb strings.Builder
			for i := 0; i < n.Segments.Len(); i++ {
				s := n.Segments.At(i)
				sb.Write(s.Value(im.src))
			}
			raw := sb.String()
			if isComment(raw) {
				continue
			}
			if !im.tag(raw, out) {
				im.text(out, raw, marks)
			}
		case *east.TaskCheckBox:
			// read by list
		default:
			im.inline(n, marks, out)
		}
	}
}

// isComment reports whether s is one HTML comment and nothing else.
// Comments are dropped: renderers do not show them.
func isComment(s string) bool {
	return strings.HasPrefix(s, "<!--") && strings.HasSuffix(s, "-->") && strings.Count(s, "-->") == 1
}

func closure(n *ast.HTMLBlock, src []byte) string {
	if n.HasClosure() {
		return strings.TrimSpace(string(n.ClosureLine.Value(src)))
	}
	return ""
}

var simpleTag = regexp.MustCompile(`^<(/?)([a-zA-Z]+)\s*(/?)>$`)

// tagMarks are the inline HTML tags read as marks.
var tagMarks = map[string]string{
	"u": mUnderline, "ins": mUnderline, "mark": mHighlight, "sub": mSubscript, "sup": mSuperscript,
	"s": mStrike, "del": mStrike, "strike": mStrike, "strong": mBold, "b": mBold, "em": mItalic, "i": mItalic,
}

// tag handles an inline HTML tag without attributes that stands for a
// mark or a line break; false if it is something else.
func (im *importer) tag(raw string, out *[]*node) bool {
	m := simpleTag.FindStringSubmatch(raw)
	if m == nil {
		return false
	}
	name := strings.ToLower(m[2])
	if name == "br" && m[1] == "" {
		*out = append(*out, &node{typ: tHardBreak})
		return true
	}
	typ, ok := tagMarks[name]
	if !ok || m[3] != "" {
		return false
	}
	if m[1] == "" {
		im.html = append(im.html, mark{typ: typ})
		return true
	}
	for i := len(im.html) - 1; i >= 0; i-- {
		if im.html[i].typ == typ {
			im.html = append(im.html[:i:i], im.html[i+1:]...)
			return true
		}
	}
	return true // a stray closing tag: nothing to close
}

// unescape resolves backslash escapes and entity and numeric character
// references in one pass, as CommonMark reads text, link destinations,
// titles and info strings.
func unescape(b []byte) string {
	if !strings.ContainsAny(string(b), "\\&\x00") {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\\' && i+1 < len(b) && util.IsPunct(b[i+1]):
			sb.WriteByte(b[i+1])
			i++
		case c == 0:
			sb.WriteString("\ufffd")
		case c == '&':
			if m := entityStart.Find(b[i:]); m != nil {
				if r, ok := resolveEntity(string(m)); ok {
					sb.WriteString(r)
					i += len(m) - 1
					continue
				}
			}
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func resolveEntity(e string) (string, bool) {
	body := e[1 : len(e)-1]
	if strings.HasPrefix(body, "#") {
		var v uint64
		var err error
		if body[1] == 'x' || body[1] == 'X' {
			v, err = strconv.ParseUint(body[2:], 16, 32)
		} else {
			v, err = strconv.ParseUint(body[1:], 10, 32)
		}
		if err != nil {
			return "", false
		}
		r := rune(v)
		if v == 0 || v > utf8.MaxRune || !utf8.ValidRune(r) {
			r = utf8.RuneError
		}
		return string(r), true
	}
	ent, ok := util.LookUpHTML5EntityByName(body)
	if !ok {
		return "", false
	}
	return string(ent.Characters), true
}
