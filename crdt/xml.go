package crdt

import (
	"slices"
	"strconv"
	"strings"

	"github.com/quirehq/quire/crdt/lib0"
)

// XmlFragment is a list of XML nodes (XmlElement, XmlText): the shape
// ProseMirror and Tiptap documents take.
type XmlFragment struct{ b *branch }

// NewXmlFragment returns a fragment to insert into a document.
func NewXmlFragment() *XmlFragment { return &XmlFragment{newBranch(kindXmlFragment, "")} }

func (f *XmlFragment) base() *branch { return f.b }

// Len returns the number of child nodes.
func (f *XmlFragment) Len() int {
	if f.b.doc == nil {
		return len(f.b.prelimList)
	}
	return int(f.b.length)
}

// Insert inserts nodes (*XmlElement, *XmlText) at index.
func (f *XmlFragment) Insert(index int, nodes ...any) error {
	return (&Array{f.b}).Insert(index, nodes...)
}

// Delete removes n nodes from index.
func (f *XmlFragment) Delete(index, n int) error { return (&Array{f.b}).Delete(index, n) }

// Get returns the child at index.
func (f *XmlFragment) Get(index int) (any, bool) { return (&Array{f.b}).Get(index) }

// Children returns the child nodes.
func (f *XmlFragment) Children() []any { return f.b.listValues() }

// String returns the XML of the children, as yjs's toString.
func (f *XmlFragment) String() string { return f.b.xmlString() }

// XmlElement is an XML element with attributes and children.
type XmlElement struct{ XmlFragment }

// NewXmlElement returns an element to insert into a document.
func NewXmlElement(name string) *XmlElement {
	return &XmlElement{XmlFragment{newBranch(kindXmlElement, name)}}
}

// Name returns the node name.
func (e *XmlElement) Name() string { return e.b.name }

// SetAttribute sets an attribute.
func (e *XmlElement) SetAttribute(key string, v any) error { return (&Map{e.b}).Set(key, v) }

// RemoveAttribute removes an attribute.
func (e *XmlElement) RemoveAttribute(key string) { (&Map{e.b}).Delete(key) }

// Attribute returns an attribute.
func (e *XmlElement) Attribute(key string) (any, bool) { return e.b.mapGet(key) }

// Attributes returns the attributes, keys in the order first set.
func (e *XmlElement) Attributes() *lib0.Object { return jsonMap(e.b) }

// String returns the element as XML, attributes sorted, as yjs's toString.
func (e *XmlElement) String() string { return e.b.xmlString() }

// XmlText is rich text inside an XML tree.
type XmlText struct{ Text }

// NewXmlText returns a text node to insert into a document.
func NewXmlText() *XmlText { return &XmlText{Text{newBranch(kindXmlText, "")}} }

// String returns the text with formatting as nested tags, as yjs's toString.
func (t *XmlText) String() string { return t.b.xmlString() }

// XmlHook is a custom node holding a map, kept as yjs stores it.
type XmlHook struct{ b *branch }

func (h *XmlHook) base() *branch { return h.b }

// Name returns the hook name.
func (h *XmlHook) Name() string { return h.b.name }

// xmlString is yjs's toString for the XML kinds.
func (b *branch) xmlString() string {
	var sb strings.Builder
	b.writeXML(&sb)
	return sb.String()
}

// writeXML writes xmlString into sb. The whole tree shares one builder:
// a string per level, copied into its parent's, would make a deep tree
// cost the square of its depth.
func (b *branch) writeXML(sb *strings.Builder) {
	switch b.kind {
	case kindXmlFragment:
		for _, c := range b.listValues() {
			writeNode(sb, c)
		}
	case kindXmlElement:
		attrs := jsonMap(b)
		keys := attrs.Keys()
		slices.Sort(keys)
		name := strings.ToLower(b.name)
		sb.WriteString("<" + name)
		for _, k := range keys {
			v, _ := attrs.Get(k)
			sb.WriteString(" " + k + `="` + jsString(v) + `"`)
		}
		sb.WriteString(">")
		for _, c := range b.listValues() {
			writeNode(sb, c)
		}
		sb.WriteString("</" + name + ">")
	case kindXmlText:
		for _, d := range b.delta() {
			type node struct {
				name  string
				attrs []string
			}
			var nodes []node
			if d.Attributes != nil {
				for _, name := range d.Attributes.Keys() {
					v, _ := d.Attributes.Get(name)
					n := node{name: name}
					keys, vals := forIn(v)
					idx := make([]int, len(keys))
					for i := range idx {
						idx[i] = i
					}
					slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
					for _, i := range idx {
						n.attrs = append(n.attrs, " "+keys[i]+`="`+jsString(vals[i])+`"`)
					}
					nodes = append(nodes, n)
				}
			}
			slices.SortFunc(nodes, func(a, b node) int { return strings.Compare(a.name, b.name) })
			for _, n := range nodes {
				sb.WriteString("<" + n.name + strings.Join(n.attrs, "") + ">")
			}
			sb.WriteString(jsString(d.Insert))
			for i := len(nodes) - 1; i >= 0; i-- {
				sb.WriteString("</" + nodes[i].name + ">")
			}
		}
	}
}

// forIn lists what JavaScript's for...in visits on v: an object's keys, a
// string's or an array's indices, nothing on other values. yjs's XmlText
// toString walks attribute values this way, so a string value of a mark
// shows up character by character.
func forIn(v any) (keys []string, vals []any) {
	switch x := v.(type) {
	case *lib0.Object:
		for _, k := range x.Keys() {
			val, _ := x.Get(k)
			keys = append(keys, k)
			vals = append(vals, val)
		}
	case string:
		i := 0
		for _, r := range x {
			if r >= 0x10000 {
				// Two UTF-16 units: each half alone cannot be a Go string.
				keys = append(keys, strconv.Itoa(i), strconv.Itoa(i+1))
				vals = append(vals, "\uFFFD", "\uFFFD")
				i += 2
				continue
			}
			keys = append(keys, strconv.Itoa(i))
			vals = append(vals, string(r))
			i++
		}
	case []lib0.Any:
		for i, e := range x {
			keys = append(keys, strconv.Itoa(i))
			vals = append(vals, e)
		}
	case []byte:
		for i, e := range x {
			keys = append(keys, strconv.Itoa(i))
			vals = append(vals, float64(e))
		}
	}
	return keys, vals
}

func writeNode(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case *XmlElement:
		x.b.writeXML(sb)
	case *XmlText:
		x.b.writeXML(sb)
	case *XmlFragment:
		x.b.writeXML(sb)
	default:
		sb.WriteString(jsString(v))
	}
}

// jsString is JavaScript's String(v) for the values a document holds.
func jsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return lib0.NumberToString(x)
	case lib0.BigInt:
		return lib0.NumberToString(float64(x))
	case []lib0.Any:
		parts := make([]string, len(x))
		for i, e := range x {
			if e != nil && e != lib0.Undefined {
				parts[i] = jsString(e)
			}
		}
		return strings.Join(parts, ",")
	case *lib0.Object:
		return "[object Object]"
	case []byte:
		parts := make([]string, len(x))
		for i, c := range x {
			parts[i] = lib0.NumberToString(float64(c))
		}
		return strings.Join(parts, ",")
	case *Text:
		return x.String()
	case *XmlText:
		return x.String()
	case *XmlElement:
		return x.String()
	case *XmlFragment:
		return x.String()
	}
	if v == lib0.Undefined {
		return "undefined"
	}
	return "[object Object]"
}
