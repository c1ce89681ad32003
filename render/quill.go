package render

import (
	"strings"
	"unicode/utf16"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

// Quill's formats, as y-quill stores them in a Text: inline formats on the
// characters, line formats on the "\n" that ends each line, embeds as
// objects ({"image": url}, {"video": url}, {"formula": tex}).
//
// Read: bold, italic, underline, strike, code, link and script (sub,
// super); header (1-6), list (bullet, ordered, checked, unchecked) with
// indent for nesting, blockquote, code-block (true or a language);
// images (with alt, width, height), videos as links and formulas as code.
// Colours, fonts, sizes, alignment and direction are left out.

// richDelta reports whether a Text holds anything but plain characters.
func richDelta(delta []crdt.Delta) bool {
	for _, d := range delta {
		if _, ok := d.Insert.(string); !ok {
			return true
		}
		if d.Attributes != nil && d.Attributes.Len() > 0 {
			return true
		}
	}
	return false
}

type quillLine struct {
	inline []*node
	attrs  *lib0.Object // the line's formats: those of its "\n"
}

// fromQuill reads a Quill delta into the model.
func fromQuill(delta []crdt.Delta) []*node {
	var lines []quillLine
	var cur []*node
	for _, d := range delta {
		switch ins := d.Insert.(type) {
		case string:
			parts := strings.Split(ins, "\n")
			for i, p := range parts {
				if p != "" {
					cur = append(cur, &node{typ: tText, text: p, marks: quillMarks(d.Attributes)})
				}
				if i < len(parts)-1 {
					lines = append(lines, quillLine{cur, d.Attributes})
					cur = nil
				}
			}
		case *lib0.Object:
			if n := quillEmbed(ins, d.Attributes); n != nil {
				cur = append(cur, n)
			}
		}
	}
	if len(cur) > 0 {
		lines = append(lines, quillLine{inline: cur})
	}
	var out []*node
	for i := 0; i < len(lines); {
		l := lines[i]
		switch {
		case flag(l.attrs, "code-block"):
			lang := attr(l.attrs, "code-block")
			var text []string
			for ; i < len(lines) && attrEqual(attr(lines[i].attrs, "code-block"), lang); i++ {
				text = append(text, inlineText(lines[i].inline))
			}
			cb := &node{typ: tCodeBlock}
			if s, ok := lang.(string); ok && s != "" && s != "plain" && s != "true" {
				cb.attrs = obj("language", s)
			}
			if t := strings.Join(text, "\n"); t != "" {
				cb.content = []*node{{typ: tText, text: t}}
			}
			out = append(out, cb)
		case quillList(l.attrs) != "":
			var list *node
			list, i = quillListAt(lines, i, 0)
			out = append(out, list)
		case flag(l.attrs, "blockquote"):
			bq := &node{typ: tBlockquote}
			for ; i < len(lines) && flag(lines[i].attrs, "blockquote") && quillList(lines[i].attrs) == "" && !flag(lines[i].attrs, "code-block"); i++ {
				bq.content = append(bq.content, quillTextblock(lines[i]))
			}
			out = append(out, bq)
		default:
			out = append(out, quillTextblock(l))
			i++
		}
	}
	return out
}

// flag reports whether a format is set (not absent, null or false).
func flag(a *lib0.Object, k string) bool {
	v := attr(a, k)
	return v != nil && v != false && v != lib0.Undefined
}

// quillTextblock is a line as a paragraph or heading.
func quillTextblock(l quillLine) *node {
	if h, ok := attrInt(l.attrs, "header"); ok && h >= 1 && h <= 6 {
		return &node{typ: tHeading, attrs: obj("level", float64(h)), content: l.inline}
	}
	return &node{typ: tParagraph, content: l.inline}
}

func quillList(a *lib0.Object) string {
	s, _ := attr(a, "list").(string)
	return s
}

func quillIndent(a *lib0.Object) int {
	n, _ := attrInt(a, "indent")
	return max(n, 0)
}

// quillListKinds maps Quill's list values to the list and item nodes.
func quillListKind(v string) (list, item string) {
	switch v {
	case "ordered":
		return tOrderedList, tListItem
	case "checked", "unchecked", "check":
		return tTaskList, tTaskItem
	}
	return tBulletList, tListItem
}

// quillListAt reads the list that starts at lines[i] at indent level:
// lines indented deeper nest in the item before them (one level at a time:
// a line indented two deeper than the item before it nests in an empty
// item); the list ends at a line that is not a list item, is shallower, or
// is of another kind. Top-level lists start at level 0 whatever the indent
// of their first line, so that two lists of one kind are never next to
// each other (Quill could not tell them apart).
func quillListAt(lines []quillLine, i, level int) (*node, int) {
	kind, itemType := quillListKind(quillList(lines[i].attrs))
	list := &node{typ: kind}
	if kind == tOrderedList {
		list.attrs = obj("start", 1.0)
	}
	for i < len(lines) && quillList(lines[i].attrs) != "" {
		l := lines[i]
		ind := quillIndent(l.attrs)
		if ind < level {
			break
		}
		if ind > level {
			var nested *node
			nested, i = quillListAt(lines, i, level+1)
			if len(list.content) == 0 {
				list.content = append(list.content, &node{typ: itemType, content: []*node{{typ: tParagraph}}})
				if itemType == tTaskItem {
					list.content[0].attrs = obj("checked", false)
				}
			}
			last := list.content[len(list.content)-1]
			last.content = append(last.content, nested)
			continue
		}
		if k, _ := quillListKind(quillList(l.attrs)); k != kind {
			break
		}
		it := &node{typ: itemType, content: []*node{quillTextblock(l)}}
		if itemType == tTaskItem {
			it.attrs = obj("checked", quillList(l.attrs) == "checked")
		}
		list.content = append(list.content, it)
		i++
	}
	return list, i
}

func quillMarks(a *lib0.Object) []mark {
	if a == nil {
		return nil
	}
	var ms []mark
	for _, k := range a.Keys() {
		v, _ := a.Get(k)
		if v == nil || v == false {
			continue
		}
		switch k {
		case "bold", "italic", "underline", "strike", "code":
			name := k
			if k == "code" {
				name = mCode
			}
			ms = append(ms, mark{typ: name})
		case "link":
			if s, ok := anyString(v); ok {
				ms = append(ms, mark{typ: mLink, attrs: obj("href", s)})
			}
		case "script":
			switch v {
			case "sub":
				ms = append(ms, mark{typ: mSubscript})
			case "super":
				ms = append(ms, mark{typ: mSuperscript})
			}
		}
	}
	sortMarks(ms)
	return ms
}

// quillEmbed reads an embed: an image, a video (a link to it) or a
// formula (its TeX as code).
func quillEmbed(e, a *lib0.Object) *node {
	if src, ok := attrString(e, "image"); ok {
		at := obj("src", src)
		for _, k := range []string{"alt", "title", "width", "height"} {
			if v, ok := attrString(a, k); ok {
				at.Set(k, v)
			}
		}
		return &node{typ: tImage, attrs: at}
	}
	if src, ok := attrString(e, "video"); ok {
		return &node{typ: tText, text: src, marks: []mark{{typ: mLink, attrs: obj("href", src)}}}
	}
	if tex, ok := attrString(e, "formula"); ok {
		return &node{typ: tText, text: tex, marks: []mark{{typ: mCode}}}
	}
	return nil
}

// quillOp is one insert of a Quill delta to write.
type quillOp struct {
	text  string       // characters, or
	embed *lib0.Object // an embed
	attrs attrs
}

// toQuill writes the model as a Quill delta: the inverse of fromQuill.
// Horizontal rules have no Quill format and are left out; hard breaks end
// the line.
func toQuill(ns []*node) []quillOp {
	var ops []quillOp
	var lines func(ns []*node, line attrs, indent int)
	textblock := func(n *node, line attrs) {
		for _, c := range flattenInline(n.content) {
			switch c.typ {
			case tText:
				ops = append(ops, quillOp{text: c.text, attrs: quillAttrs(c.marks)})
			case tHardBreak:
				ops = append(ops, quillOp{text: "\n", attrs: line})
			case tImage:
				ops = append(ops, quillImage(c))
			}
		}
		ops = append(ops, quillOp{text: "\n", attrs: line})
	}
	lines = func(ns []*node, line attrs, indent int) {
		for _, n := range blocks(ns) {
			switch n.typ {
			case tParagraph:
				textblock(n, line)
			case tHeading:
				textblock(n, withAttr(line, "header", float64(headingLevel(n))))
			case tCodeBlock:
				var lang any = true
				if l, ok := attrString(n.attrs, "language"); ok && l != "" {
					lang = l
				}
				for _, t := range strings.Split(inlineText(n.content), "\n") {
					if t != "" {
						ops = append(ops, quillOp{text: t})
					}
					ops = append(ops, quillOp{text: "\n", attrs: attrs{{"code-block", lang}}})
				}
			case tBlockquote:
				lines(n.content, attrs{{"blockquote", true}}, indent)
			case tImage:
				ops = append(ops, quillImage(n), quillOp{text: "\n", attrs: line})
			case tBulletList, tOrderedList, tTaskList:
				for _, it := range items(n) {
					v := "bullet"
					switch {
					case n.typ == tOrderedList:
						v = "ordered"
					case it.typ == tTaskItem && attrBool(it.attrs, "checked"):
						v = "checked"
					case it.typ == tTaskItem:
						v = "unchecked"
					}
					la := attrs{{"list", v}}
					if indent > 0 {
						la = append(la, kv{"indent", float64(indent)})
					}
					bs := blocks(it.content)
					if len(bs) == 0 || !isTextblock(bs[0]) || bs[0].typ == tCodeBlock {
						bs = append([]*node{{typ: tParagraph}}, bs...)
					}
					textblock(bs[0], la)
					lines(bs[1:], nil, indent+1)
				}
			}
		}
	}
	lines(ns, nil, 0)
	return ops
}

func withAttr(a attrs, k string, v any) attrs {
	out := attrs{{k, v}}
	for _, x := range a {
		if x.k != k {
			out = append(out, x)
		}
	}
	return out
}

func quillImage(n *node) quillOp {
	src, _ := attrString(n.attrs, "src")
	var a attrs
	if alt, ok := attrString(n.attrs, "alt"); ok && alt != "" {
		a = attrs{{"alt", alt}}
	}
	return quillOp{embed: obj("image", src), attrs: a}
}

func quillAttrs(ms []mark) attrs {
	var a attrs
	for _, m := range ms {
		switch m.typ {
		case mBold, mItalic, mUnderline, mStrike, mCode:
			a = append(a, kv{m.typ, true})
		case mLink:
			if h, ok := attrString(m.attrs, "href"); ok {
				a = append(a, kv{"link", h})
			}
		case mSubscript:
			a = append(a, kv{"script", "sub"})
		case mSuperscript:
			a = append(a, kv{"script", "super"})
		}
	}
	return a
}

// writeQuill replaces the content of t with ops.
func writeQuill(t *crdt.Text, ops []quillOp) error {
	if err := t.Delete(0, t.Len()); err != nil {
		return err
	}
	runs := make([]textRun, len(ops))
	for i, op := range ops {
		runs[i] = textRun{text: op.text, embed: op.embed, attrs: op.attrs.crdt()}
	}
	return writeRuns(t, runs)
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
