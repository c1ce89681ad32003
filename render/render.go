// Package render turns a document's root types into the formats people
// read, and back.
//
// A quire document holds one or more named root types, shaped by the editor
// that uses them:
//
//   - an XmlFragment in the shape y-prosemirror stores ProseMirror and Tiptap
//     documents ("default" for Tiptap's Collaboration extension,
//     "prosemirror" in the y-prosemirror examples): XmlElements named after
//     the ProseMirror node types (paragraph, heading, bulletList, ...), their
//     attributes the node attributes, and XmlText children whose formatting
//     attributes are the marks (bold, italic, link, ...);
//   - a rich Text as y-quill stores a Quill document: a delta whose line
//     formats (header, list, blockquote, code-block) sit on the "\n" that
//     ends each line;
//   - a plain Text edited by CodeMirror or Monaco.
//
// [Markdown], [HTML] and [Text] render a root; [ImportMarkdown] and
// [ImportText] replace a root's content in one transaction. None of them is
// safe for concurrent use with other users of the same crdt.Doc: call them
// where the document is owned (the sync session).
//
// The XmlFragment encoding is y-prosemirror 1.x's, which Tiptap's
// Collaboration extension uses (as its fork @tiptap/y-tiptap): read from
// src/plugins/sync-plugin.js, not copied. Node and mark names are those of
// Tiptap 3's StarterKit, TaskList/TaskItem, Image, Highlight, Subscript and
// Superscript extensions. An editor that shows imported documents must
// register those it is given: y-prosemirror deletes nodes whose type its
// schema lacks. Nested task lists need TaskItem.configure({nested: true}).
//
// # Which root
//
// An empty field picks the root the way the REST API does (see [Root]):
// the doc's only text-like root (XmlFragment or Text); with several, the
// first present of "default", "content", "prosemirror", "quill",
// "codemirror", "monaco"; else the first text-like root in the order the
// roots appeared. A document with no text-like root at all renders as
// empty, unless it holds other roots (maps, arrays), which is an
// [ErrUnsupported] error.
//
// # Which kind of Text
//
// A Text root is rendered as rich (Quill) text when any part of it carries
// formatting attributes or is an embed, or when it is called "quill";
// otherwise it is plain text: its Markdown is the text as it is, its HTML
// the text escaped inside <pre>.
package render

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/quirehq/quire/crdt"
)

// Errors a caller can map to HTTP statuses. The errors returned wrap one of
// them (test with errors.Is) inside a *FieldError.
var (
	// ErrNoField: the document has no root of that name (404).
	ErrNoField = errors.New("no such field")
	// ErrUnsupported: the root exists but is of a kind this package cannot
	// render or import into, such as a Map or an Array (422).
	ErrUnsupported = errors.New("root type cannot be rendered")
)

// FieldError reports which root a call failed on and why.
type FieldError struct {
	Field string // the root's name; "" when none was named and none fits
	Kind  string // the root's kind (crdt.Doc.RootKind), if it exists
	Err   error  // ErrNoField or ErrUnsupported
}

func (e *FieldError) Error() string {
	switch {
	case e.Field == "" && e.Err == ErrUnsupported:
		return "render: the document has no text or XML root to render (its roots are maps or arrays)"
	case e.Err == ErrNoField:
		return fmt.Sprintf("render: the document has no field %q", e.Field)
	case e.Err == ErrUnsupported:
		return fmt.Sprintf("render: field %q is a %s; only XmlFragment and Text roots can be rendered", e.Field, e.Kind)
	}
	return fmt.Sprintf("render: field %q: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// wellKnown are the root names editors use, in the order an empty field
// prefers them: Tiptap's Collaboration extension, the CodeMirror examples
// quire's README uses, y-prosemirror, y-quill, y-codemirror and y-monaco
// examples.
var wellKnown = []string{"default", "content", "prosemirror", "quill", "codemirror", "monaco"}

// Kinds of roots as this package sees them.
const (
	kindNone     = ""            // no such root, or empty and untyped
	kindFragment = "XmlFragment" // ProseMirror / Tiptap
	kindText     = "Text"        // Quill (rich) or CodeMirror (plain)
)

func textLike(kind string) bool { return kind == kindFragment || kind == kindText }

// As renders the root field of doc in format: "text", "markdown", "html"
// or "json", the formats the REST export and `quire export` share.
func As(doc *crdt.Doc, format, field string) (string, error) {
	switch format {
	case "json":
		return JSON(doc, field)
	case "text":
		return Text(doc, field)
	case "markdown":
		return Markdown(doc, field)
	case "html":
		return HTML(doc, field)
	}
	return "", fmt.Errorf("render: unknown format %q", format)
}

// Root resolves field to the root that Markdown, HTML and Text render, and
// returns its name and kind ("XmlFragment", "Text", or "" for a root that
// exists but is empty and untyped, which renders as empty). An empty field
// follows the rule in the package documentation; it returns name "" and
// no error for a document without any root.
func Root(doc *crdt.Doc, field string) (name, kind string, err error) {
	roots := doc.Roots()
	if field != "" {
		if !slices.Contains(roots, field) {
			return "", "", &FieldError{Field: field, Err: ErrNoField}
		}
		kind = doc.RootKind(field)
		if kind != kindNone && !textLike(kind) {
			return "", "", &FieldError{Field: field, Kind: kind, Err: ErrUnsupported}
		}
		return field, kind, nil
	}
	var texts []string
	nonEmpty := false
	for _, r := range roots {
		k := doc.RootKind(r)
		if textLike(k) {
			texts = append(texts, r)
		}
		if k != kindNone {
			nonEmpty = true
		}
	}
	switch {
	case len(texts) == 1:
		return texts[0], doc.RootKind(texts[0]), nil
	case len(texts) > 1:
		for _, w := range wellKnown {
			if slices.Contains(texts, w) {
				return w, doc.RootKind(w), nil
			}
		}
		return texts[0], doc.RootKind(texts[0]), nil
	case nonEmpty:
		return "", "", &FieldError{Err: ErrUnsupported}
	}
	return "", kindNone, nil
}

// importTarget resolves the root an import writes to. Unlike Root it may
// name a root that does not exist yet (an empty field then means
// "default"); kind is what the root is, or what to create it as.
func importTarget(doc *crdt.Doc, field string) (name, kind string, err error) {
	if field == "" {
		field = "default"
		if n, _, err := Root(doc, ""); err == nil && n != "" {
			field = n
		}
	}
	kind = doc.RootKind(field)
	if kind != kindNone && !textLike(kind) {
		return "", "", &FieldError{Field: field, Kind: kind, Err: ErrUnsupported}
	}
	if mayBeEmptiedFragment(doc, field) && canBeFragment(doc, field) {
		kind = kindFragment
	}
	if kind == kindNone {
		kind = newRootKind(field)
	}
	return field, kind, nil
}

// mayBeEmptiedFragment reports whether a root that crdt calls a Text may
// be a fragment that lost all its content: crdt takes a root holding
// deleted items only (say, a fragment emptied by an import, then
// reloaded) for a Text, as nothing tells what it was. Such a root is
// empty; if its name is not one plain-text or Quill editors use, it is
// rendered as empty without making it a Text (which would stick), and an
// import makes it a fragment again. (A Text of embeds only, under such a
// name, also renders empty.)
func mayBeEmptiedFragment(doc *crdt.Doc, name string) bool {
	if doc.RootKind(name) != kindText || newRootKind(name) != kindFragment {
		return false
	}
	s, err := crdt.PlainText(doc, name)
	return err == nil && s == ""
}

// canBeFragment reports whether doc.XmlFragment(name) succeeds: crdt
// panics when a Doc has given the root another type already, and has no
// other way to tell that from a guess.
func canBeFragment(doc *crdt.Doc, name string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	doc.XmlFragment(name)
	return true
}

// newRootKind is the kind an import creates for a root that does not exist
// (or is empty and untyped): a Text for the names plain-text and Quill
// editors use, else an XmlFragment, which Tiptap and ProseMirror edit.
func newRootKind(name string) string {
	switch name {
	case "content", "codemirror", "monaco", "quill":
		return kindText
	}
	return kindFragment
}

// content is a root read into the model.
type content struct {
	doc   []*node // XmlFragment or rich Text
	plain bool    // a plain Text: text holds it
	text  string
}

// read resolves field and reads the root; nil (and no error) for a
// document or root with nothing in it.
func read(doc *crdt.Doc, field string) (*content, error) {
	name, kind, err := Root(doc, field)
	if err != nil || kind == kindNone {
		return nil, err
	}
	if kind == kindFragment {
		return &content{doc: fromFragment(doc.XmlFragment(name).Children())}, nil
	}
	if mayBeEmptiedFragment(doc, name) {
		return nil, nil
	}
	t := doc.Text(name)
	delta := t.ToDelta()
	if name != "quill" && !richDelta(delta) {
		return &content{plain: true, text: t.String()}, nil
	}
	return &content{doc: fromQuill(delta)}, nil
}

// Text renders a root as plain text. A plain or rich Text gives its
// characters (embeds left out, as Quill's getText leaves them out); an
// XmlFragment gives what Tiptap's editor.getText() gives: the text of each
// textblock, blocks separated by a blank line ("\n\n"), hard breaks as
// "\n".
func Text(doc *crdt.Doc, field string) (string, error) {
	name, kind, err := Root(doc, field)
	if err != nil || kind == kindNone {
		return "", err
	}
	if kind == kindText {
		if mayBeEmptiedFragment(doc, name) {
			return "", nil
		}
		return doc.Text(name).String(), nil
	}
	var sb strings.Builder
	first := true
	var walk func([]*node)
	walk = func(ns []*node) {
		for _, n := range blocks(ns) {
			switch {
			case isTextblock(n):
				if !first {
					sb.WriteString("\n\n")
				}
				first = false
				sb.WriteString(inlineText(n.content))
			case n.typ == tBlockquote:
				walk(n.content)
			case n.typ == tBulletList || n.typ == tOrderedList || n.typ == tTaskList:
				for _, it := range items(n) {
					walk(it.content)
				}
			}
		}
	}
	walk(fromFragment(doc.XmlFragment(name).Children()))
	return sb.String(), nil
}
