package render

import (
	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

// JSON renders every root by name, as yjs's doc.toJSON() does, or with a
// field just that root's value. Unlike the other formats the field is not
// guessed: an empty field means the whole document.
//
// A BigInt that a peer stored is written as its digits (see
// lib0.ExportJSON), so one such value cannot make a document unreadable.
func JSON(doc *crdt.Doc, field string) (string, error) {
	obj := doc.ToJSON()
	if field == "" {
		return lib0.ExportJSON(obj)
	}
	v, ok := obj.Get(field)
	if !ok {
		return "", &FieldError{Field: field, Err: ErrNoField}
	}
	return lib0.ExportJSON(v)
}
