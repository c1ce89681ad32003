package render

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

// node is a document in ProseMirror's model, the form every reader
// produces and every writer consumes: block nodes with content, and text
// nodes (typ "text") with marks. Node and mark type names are Tiptap's.
type node struct {
	typ     string
	attrs   *lib0.Object // node attributes, nil if none
	content []*node
	text    string // typ == "text"
	marks   []mark // text and inline leaves, sorted by rank
}

// mark is formatting on inline content.
type mark struct {
	typ   string
	attrs *lib0.Object // nil if none
}

// Node type names (Tiptap's).
const (
	tParagraph   = "paragraph"
	tHeading     = "heading"
	tBulletList  = "bulletList"
	tOrderedList = "orderedList"
	tListItem    = "listItem"
	tTaskList    = "taskList"
	tTaskItem    = "taskItem"
	tBlockquote  = "blockquote"
	tCodeBlock   = "codeBlock"
	tRule        = "horizontalRule"
	tHardBreak   = "hardBreak"
	tImage       = "image"
	tText        = "text"
)

// Mark type names (Tiptap's).
const (
	mLink        = "link"
	mBold        = "bold"
	mCode        = "code"
	mItalic      = "italic"
	mStrike      = "strike"
	mUnderline   = "underline"
	mHighlight   = "highlight"
	mSubscript   = "subscript"
	mSuperscript = "superscript"
)

// markRank is the order of marks in Tiptap's schema with StarterKit
// (extensions sorted by priority, link's is 1000, then in StarterKit's
// order), followed by the other marks Tiptap ships. ProseMirror keeps a
// node's marks in this order, and its DOM serializer nests them so. Marks
// not listed here are dropped: their meaning is unknown.
var markRank = []string{mLink, mBold, mCode, mItalic, mStrike, mUnderline, mHighlight, mSubscript, mSuperscript}

func rank(typ string) int { return slices.Index(markRank, typ) }

// hashedMark is how y-prosemirror names the attribute of a mark that may
// overlap itself (a mark type that does not exclude itself, such as a
// comment): the mark name, "--" and 8 characters of a base64 hash.
var hashedMark = regexp.MustCompile(`^(.*)--[a-zA-Z0-9+/=]{8}$`)

// markName is y-prosemirror's yattr2markname.
func markName(attr string) string {
	if m := hashedMark.FindStringSubmatch(attr); m != nil {
		return m[1]
	}
	return attr
}

// marksFromAttrs reads the marks of an XmlText delta op: each formatting
// attribute is a mark, keyed by its name, its value the mark's attrs.
func marksFromAttrs(o *lib0.Object) []mark {
	if o == nil {
		return nil
	}
	var ms []mark
	for _, k := range o.Keys() {
		v, _ := o.Get(k)
		if v == nil || v == false || v == lib0.Undefined {
			continue
		}
		name := markName(k)
		if rank(name) < 0 || slices.ContainsFunc(ms, func(m mark) bool { return m.typ == name }) {
			continue
		}
		a, _ := v.(*lib0.Object)
		ms = append(ms, mark{typ: name, attrs: a})
	}
	sortMarks(ms)
	return ms
}

func sortMarks(ms []mark) {
	slices.SortStableFunc(ms, func(a, b mark) int { return rank(a.typ) - rank(b.typ) })
}

// fromFragment reads the children of a y-prosemirror XmlFragment or
// XmlElement.
func fromFragment(children []any) []*node {
	var out []*node
	for _, c := range children {
		switch x := c.(type) {
		case *crdt.XmlElement:
			out = append(out, &node{typ: x.Name(), attrs: x.Attributes(), content: fromFragment(x.Children())})
		case *crdt.XmlText:
			out = append(out, fromXmlText(x)...)
		case *crdt.XmlFragment:
			out = append(out, fromFragment(x.Children())...)
		}
	}
	return out
}

func fromXmlText(t *crdt.XmlText) []*node {
	var out []*node
	for _, d := range t.ToDelta() {
		switch ins := d.Insert.(type) {
		case string:
			out = append(out, &node{typ: tText, text: ins, marks: marksFromAttrs(d.Attributes)})
		case *crdt.XmlElement:
			out = append(out, fromFragment([]any{ins})...)
		}
	}
	return out
}

// Attribute helpers: attribute values are whatever a client stored, so
// they are read leniently (a number may arrive as a string and so on).

func attr(o *lib0.Object, k string) any {
	v, _ := attrGet(o, k)
	return v
}

func attrGet(o *lib0.Object, k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	return o.Get(k)
}

func attrString(o *lib0.Object, k string) (string, bool) { return anyString(attr(o, k)) }

// anyString is String(v) for the scalar values an attribute holds; ok is
// false for null, undefined, objects and arrays.
func anyString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return lib0.NumberToString(v), true
	case lib0.BigInt:
		return strconv.FormatInt(int64(v), 10), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func attrInt(o *lib0.Object, k string) (int, bool) {
	switch v := attr(o, k).(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) || math.Abs(v) > 1e15 {
			return 0, false
		}
		return int(v), true
	case lib0.BigInt:
		return int(v), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	}
	return 0, false
}

func attrBool(o *lib0.Object, k string) bool {
	switch v := attr(o, k).(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == ""
	case float64:
		return v != 0
	}
	return false
}

// obj builds an attribute object from key, value pairs.
func obj(kv ...any) *lib0.Object {
	o := lib0.NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// headingLevel is Tiptap's: a level outside 1-6 renders as 1.
func headingLevel(n *node) int {
	l, ok := attrInt(n.attrs, "level")
	if !ok || l < 1 || l > 6 {
		return 1
	}
	return l
}

// isInline tells the nodes that live inside a textblock.
func isInline(n *node) bool {
	return n.typ == tText || n.typ == tHardBreak
}

// textblocks hold inline content.
func isTextblock(n *node) bool {
	switch n.typ {
	case tParagraph, tHeading, tCodeBlock:
		return true
	}
	return false
}

// blocks returns content as block nodes: inline nodes found among blocks
// (an unknown node holding text directly, say) are wrapped in paragraphs,
// and unknown containers are unwrapped, so writers only see known blocks
// and the leaves they know.
func blocks(content []*node) []*node {
	var out []*node
	orphanList := map[*node]bool{}
	var run []*node
	flush := func() {
		if len(run) > 0 {
			out = append(out, &node{typ: tParagraph, content: run})
			run = nil
		}
	}
	for _, n := range content {
		switch n.typ {
		case tText, tHardBreak:
			run = append(run, n)
		case tParagraph, tHeading, tCodeBlock, tBlockquote, tBulletList, tOrderedList, tTaskList, tRule, tImage:
			flush()
			out = append(out, n)
		case tListItem, tTaskItem:
			// An item outside any list: give it one, shared with the item
			// before it.
			flush()
			list := tBulletList
			if n.typ == tTaskItem {
				list = tTaskList
			}
			if k := len(out) - 1; k >= 0 && out[k].typ == list && out[k].attrs == nil && orphanList[out[k]] {
				out[k].content = append(out[k].content, n)
				continue
			}
			l := &node{typ: list, content: []*node{n}}
			orphanList[l] = true
			out = append(out, l)
		default:
			if slices.ContainsFunc(n.content, isInline) && !slices.ContainsFunc(n.content, func(c *node) bool { return !isInline(c) && c.typ != tImage }) {
				// An unknown textblock (a table cell's text, a summary...).
				flush()
				out = append(out, &node{typ: tParagraph, content: n.content})
				continue
			}
			if len(n.content) > 0 {
				flush()
				out = append(out, blocks(n.content)...)
			}
		}
	}
	flush()
	return out
}

// inlineText returns the text of inline content, hard breaks as "\n".
func inlineText(content []*node) string {
	var sb strings.Builder
	var walk func([]*node)
	walk = func(ns []*node) {
		for _, n := range ns {
			switch n.typ {
			case tText:
				sb.WriteString(n.text)
			case tHardBreak:
				sb.WriteByte('\n')
			default:
				walk(n.content)
			}
		}
	}
	walk(content)
	return sb.String()
}

// items returns the items of a list, wrapping anything else it holds in an
// item of the list's kind.
func items(list *node) []*node {
	item := tListItem
	if list.typ == tTaskList {
		item = tTaskItem
	}
	var out []*node
	for _, c := range list.content {
		if c.typ == tListItem || c.typ == tTaskItem {
			out = append(out, c)
			continue
		}
		out = append(out, &node{typ: item, content: []*node{c}})
	}
	return out
}

// markEqual is ProseMirror's Mark.eq: same type, equal attributes.
func markEqual(a, b mark) bool {
	return a.typ == b.typ && attrEqual(a.attrs, b.attrs)
}

// attrEqual compares attribute values deeply; a nil object equals an
// empty one (y-prosemirror stores {} for a mark without attributes).
func attrEqual(a, b any) bool {
	oa, aObj := a.(*lib0.Object)
	ob, bObj := b.(*lib0.Object)
	if aObj || bObj {
		if !aObj || !bObj {
			return false
		}
		la, lb := 0, 0
		if oa != nil {
			la = oa.Len()
		}
		if ob != nil {
			lb = ob.Len()
		}
		if la != lb {
			return false
		}
		if la == 0 {
			return true
		}
		for _, k := range oa.Keys() {
			va, _ := oa.Get(k)
			vb, ok := ob.Get(k)
			if !ok || !attrEqual(va, vb) {
				return false
			}
		}
		return true
	}
	switch x := a.(type) {
	case []lib0.Any:
		y, ok := b.([]lib0.Any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !attrEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	return a == b
}

// attrs are formatting attributes to write, in order.
type attrs []kv

type kv struct {
	k string
	v any
}

// crdt returns the attributes as crdt.Attrs: never nil, because a nil
// crdt.Attrs would make an insert take the formatting around it.
func (a attrs) crdt() crdt.Attrs {
	out := make(crdt.Attrs, 0, len(a))
	for _, x := range a {
		out = append(out, crdt.Attr{Key: x.k, Value: x.v})
	}
	return out
}
