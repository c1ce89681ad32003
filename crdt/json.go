package crdt

import (
	"fmt"
	"strings"

	"github.com/quirehq/quire/crdt/lib0"
)

// jsonValue is what yjs's toJSON gives for a value held in a type: nested
// types become their JSON, everything else stays as it is.
func jsonValue(v any) any {
	switch x := v.(type) {
	case *Text:
		return x.String()
	case *XmlText:
		return x.String()
	case *XmlFragment:
		return x.String()
	case *XmlElement:
		return x.String()
	case *Map:
		return jsonMap(x.b)
	case *XmlHook:
		return jsonMap(x.b)
	case *Array:
		return jsonList(x.b)
	case SubDoc:
		// JSON.stringify calls the subdocument's own toJSON, which lists its
		// root types: none, since a server does not load subdocuments.
		return lib0.NewObject()
	}
	return v
}

func jsonList(b *branch) []any {
	vals := b.listValues()
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = jsonValue(v)
	}
	return out
}

func jsonMap(b *branch) *lib0.Object {
	o := lib0.NewObject()
	for _, k := range b.mapKeys() {
		v, _ := b.mapGet(k)
		o.Set(k, jsonValue(v))
	}
	return o
}

// ToJSON returns every root type by name, as yjs's toJSON gives it when each
// root is got with its right kind: text and XML as strings, maps as
// objects, arrays as arrays. A root whose kind nobody asked for is inferred
// from its content; an empty one is left out, as yjs leaves it out.
func (d *Doc) ToJSON() *lib0.Object {
	o := lib0.NewObject()
	for _, name := range d.order {
		b := d.share[name]
		kind := b.kind
		if kind == kindUnknown {
			kind = b.inferKind()
		}
		switch kind {
		case kindText:
			o.Set(name, b.textString())
		case kindXmlText, kindXmlFragment, kindXmlElement:
			o.Set(name, b.xmlStringAs(kind))
		case kindMap, kindXmlHook:
			o.Set(name, jsonMap(b))
		case kindArray:
			o.Set(name, jsonList(b))
		}
	}
	return o
}

func (b *branch) xmlStringAs(kind typeKind) string {
	saved := b.kind
	b.kind = kind
	s := b.xmlString()
	b.kind = saved
	return s
}

// RootKind returns the kind of a root: "Text", "Map", "Array",
// "XmlFragment", ..., inferred from the content when nobody asked for it,
// or "" when the root does not exist or is empty and untyped.
func (d *Doc) RootKind(name string) string {
	b, ok := d.share[name]
	if !ok {
		return ""
	}
	k := b.kind
	if k == kindUnknown {
		k = b.inferKind()
	}
	if k == kindUnknown {
		return ""
	}
	return k.String()
}

// inferKind guesses the kind of an untyped root from what it holds. Items
// tell: characters and formats mean text, XML nodes a fragment, other
// values an array; keys alone mean a map.
func (b *branch) inferKind() typeKind {
	sawList := false
	for n := b.start; n != nil; n = n.right {
		sawList = true
		switch c := n.content.(type) {
		case *contentString, *contentFormat, *contentEmbed:
			return kindText
		case *contentType:
			if c.t.kind == kindXmlElement || c.t.kind == kindXmlText {
				return kindXmlFragment
			}
			return kindArray
		case *contentAny, *contentJSON, *contentBinary, *contentDoc:
			return kindArray
		}
	}
	if sawList {
		// Only deleted content is left: nothing tells what it was; yjs's
		// JSON of an empty text and an empty array differ, so pick text,
		// the common case for editors.
		return kindText
	}
	if len(b.entries) > 0 {
		return kindMap
	}
	return kindUnknown
}

// DefaultTextRoot picks the root a plain-text export shows: "default" or
// "content" (the names Tiptap and the CodeMirror examples use) when they
// hold text or XML, else the first root that does. "" if none does.
func DefaultTextRoot(d *Doc) string {
	isText := func(name string) bool {
		switch d.RootKind(name) {
		case "Text", "XmlFragment", "XmlText":
			return true
		}
		return false
	}
	for _, name := range []string{"default", "content"} {
		if isText(name) {
			return name
		}
	}
	for _, name := range d.order {
		if isText(name) {
			return name
		}
	}
	return ""
}

// PlainText returns the text of a root: a text's characters, or the text
// of an XML tree with a newline after each top-level block.
func PlainText(d *Doc, name string) (string, error) {
	b, ok := d.share[name]
	if !ok {
		return "", fmt.Errorf("crdt: no root named %q", name)
	}
	kind := b.kind
	if kind == kindUnknown {
		kind = b.inferKind()
	}
	switch kind {
	case kindText, kindXmlText:
		return b.textString(), nil
	case kindXmlFragment, kindXmlElement:
		var sb strings.Builder
		for n := b.start; n != nil; n = n.right {
			if !n.live() {
				continue
			}
			if c, ok := n.content.(*contentType); ok {
				xmlText(&sb, c.t)
				if c.t.kind == kindXmlElement {
					sb.WriteByte('\n')
				}
			}
		}
		return sb.String(), nil
	}
	return "", fmt.Errorf("crdt: root %q is a %s, not text", name, kind)
}

func xmlText(sb *strings.Builder, b *branch) {
	if b.kind == kindXmlText {
		sb.WriteString(b.textString())
		return
	}
	for n := b.start; n != nil; n = n.right {
		if c, ok := n.content.(*contentType); ok && n.live() {
			xmlText(sb, c.t)
		}
	}
}

// HasPending reports whether the document holds structs or deletions
// waiting for updates it has not seen.
func (d *Doc) HasPending() bool {
	return d.store.pendingStructs != nil || d.store.pendingDs != nil
}
