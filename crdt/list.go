package crdt

import (
	"errors"
	"fmt"

	"github.com/quirehq/quire/crdt/lib0"
)

// ErrIndex reports an index or length outside a type's bounds.
var ErrIndex = errors.New("crdt: index out of range")

// ErrValue reports a value that cannot be stored in a shared type.
var ErrValue = errors.New("crdt: unsupported value")

// nextID is the ID the next local struct gets.
func (tx *Transaction) nextID() ID {
	d := tx.doc
	return ID{d.clientID, d.store.state(d.clientID)}
}

// newLocalItem creates an item for a local insert between left and right.
func (tx *Transaction) newLocalItem(left, right *item, parent *branch, sub *string, c content) *item {
	it := tx.doc.newItem()
	*it = item{
		id:      tx.nextID(),
		lf:      packLF(c.length(), 0),
		left:    left,
		right:   right,
		parent:  parent,
		content: c,
	}
	if left != nil {
		it.origin = left.lastID()
		it.addFlags(flagOrigin)
	}
	if right != nil {
		it.rightOrigin = right.id
		it.addFlags(flagRightOrigin)
	}
	if sub != nil {
		it.parentSub = sub
		it.addFlags(flagParentSub)
	}
	if c.countable() {
		it.addFlags(flagCountable)
	}
	return it
}

// stringItem allocates an item and its string content together: typing
// creates one per keystroke.
type stringItem struct {
	it item
	cs contentString
}

// newStringItem is newLocalItem for a string.
func (tx *Transaction) newStringItem(left, right *item, parent *branch, s string) *item {
	x := &stringItem{}
	if len(s) == 1 && s[0] < 0x80 {
		x.cs = contentString{b: asciiBytes[s[0] : s[0]+1 : s[0]+1]}
	} else {
		b := []byte(s)
		x.cs = contentString{b: b[:len(b):len(b)]}
	}
	it := &x.it
	*it = item{id: tx.nextID(), lf: packLF(x.cs.length(), flagCountable), left: left, right: right, parent: parent, content: &x.cs}
	if left != nil {
		it.origin = left.lastID()
		it.addFlags(flagOrigin)
	}
	if right != nil {
		it.rightOrigin = right.id
		it.addFlags(flagRightOrigin)
	}
	return it
}

// valueContent turns one Go value into content for a list or map. JSON-like
// values go into ContentAny (several in a row share one), as yjs does.
func valueContent(v any) (content, bool, error) {
	switch x := v.(type) {
	case []byte:
		return &contentBinary{append([]byte(nil), x...)}, false, nil
	case sharedType:
		b := x.base()
		if b.doc != nil || b.item != nil {
			return nil, false, fmt.Errorf("%w: the %s is already in a document", ErrValue, b.kind)
		}
		return &contentType{b}, false, nil
	}
	a, err := lib0.Normalize(v)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrValue, err)
	}
	return nil, true, checkAny(a)
}

// checkAny refuses what yjs cannot insert into a list: undefined.
func checkAny(a lib0.Any) error {
	if a == lib0.Undefined {
		return fmt.Errorf("%w: undefined", ErrValue)
	}
	return nil
}

// insertAfter inserts values after ref (nil: at the start) — yjs's
// typeListInsertGenericsAfter.
func (tx *Transaction) insertAfter(parent *branch, ref *item, values []any) error {
	left := ref
	var right *item
	if ref == nil {
		right = parent.start
	} else {
		right = ref.right
	}
	var pack []lib0.Any
	flush := func() {
		if len(pack) > 0 {
			left = tx.newLocalItem(left, right, parent, nil, &contentAny{pack})
			left.integrate(tx, 0)
			pack = nil
		}
	}
	for _, v := range values {
		c, isAny, err := valueContent(v)
		if err != nil {
			return err
		}
		if isAny {
			a, _ := lib0.Normalize(v)
			pack = append(pack, a)
			continue
		}
		flush()
		left = tx.newLocalItem(left, right, parent, nil, c)
		left.integrate(tx, 0)
	}
	flush()
	return nil
}

// checkValues validates values before any is inserted, so a bad value
// leaves the document untouched.
func checkValues(values []any) error {
	for _, v := range values {
		if _, _, err := valueContent(v); err != nil {
			return err
		}
	}
	return nil
}

// listInsert inserts values at index (typeListInsertGenerics).
func (tx *Transaction) listInsert(parent *branch, index uint64, values []any) error {
	if index > parent.length {
		return fmt.Errorf("%w: insert at %d, length %d", ErrIndex, index, parent.length)
	}
	if err := checkValues(values); err != nil {
		return err
	}
	if index == 0 {
		if !parent.markersOff {
			parent.updateMarkers(index, int64(len(values)))
		}
		return tx.insertAfter(parent, nil, values)
	}
	start := index
	n := parent.start
	if mp, mi, ok := parent.findMarker(index); ok {
		n = mp
		index -= mi
		if index == 0 {
			n = n.prev()
			if n != nil && n.live() {
				index += n.len()
			}
		}
	}
	for ; n != nil; n = n.right {
		if n.live() {
			if index <= n.len() {
				if index < n.len() {
					tx.doc.store.getItemCleanStart(tx, ID{n.id.Client, n.id.Clock + index})
				}
				break
			}
			index -= n.len()
		}
	}
	if !parent.markersOff {
		parent.updateMarkers(start, int64(len(values)))
	}
	return tx.insertAfter(parent, n, values)
}

// listDelete deletes n elements from index (typeListDelete).
func (tx *Transaction) listDelete(parent *branch, index, length uint64) error {
	if length == 0 {
		return nil
	}
	if index+length > parent.length {
		return fmt.Errorf("%w: delete %d at %d, length %d", ErrIndex, length, index, parent.length)
	}
	start, startLen := index, length
	n := parent.start
	if mp, mi, ok := parent.findMarker(index); ok {
		n = mp
		index -= mi
	}
	for ; n != nil && index > 0; n = n.right {
		if n.live() {
			if index < n.len() {
				tx.doc.store.getItemCleanStart(tx, ID{n.id.Client, n.id.Clock + index})
			}
			index -= min(index, n.len())
		}
	}
	for length > 0 && n != nil {
		if !n.deleted() {
			if length < n.len() {
				tx.doc.store.getItemCleanStart(tx, ID{n.id.Client, n.id.Clock + length})
			}
			n.delete(tx)
			length -= min(length, n.len())
		}
		n = n.right
	}
	if !parent.markersOff {
		parent.updateMarkers(start, -int64(startLen)+int64(length))
	}
	return nil
}

// listValues returns the live values of a list, nested types as views.
func (b *branch) listValues() []any {
	var out []any
	for n := b.start; n != nil; n = n.right {
		if n.live() {
			out = append(out, contentValues(n.content)...)
		}
	}
	return out
}

// listGet returns the value at index.
func (b *branch) listGet(index uint64) (any, bool) {
	if index >= b.length {
		return nil, false
	}
	n := b.start
	if mp, mi, ok := b.findMarker(index); ok {
		n = mp
		index -= mi
	}
	for ; n != nil; n = n.right {
		if n.live() {
			if index < n.len() {
				return contentValues(n.content)[index], true
			}
			index -= n.len()
		}
	}
	return nil, false
}

// contentValues is yjs's getContent: the values an item contributes.
func contentValues(c content) []any {
	switch x := c.(type) {
	case *contentAny:
		out := make([]any, len(x.vals))
		for i, v := range x.vals {
			out[i] = v
		}
		return out
	case *contentJSON:
		out := make([]any, len(x.vals))
		for i, v := range x.vals {
			out[i] = v
		}
		return out
	case *contentBinary:
		return []any{x.b}
	case *contentString:
		// A string in a list is one element per UTF-16 unit, as yjs splits it.
		s := string(x.b)
		out := make([]any, 0, len(x.b)) // at least the units
		for _, r := range s {
			if r >= 0x10000 {
				out = append(out, string(r), string(r))
			} else {
				out = append(out, string(r))
			}
		}
		return out
	case *contentEmbed:
		return []any{x.v}
	case *contentFormat:
		return []any{nil}
	case *contentType:
		return []any{x.t.typed()}
	case *contentDoc:
		return []any{SubDoc{GUID: x.guid, Opts: x.opts}}
	case *contentDeleted:
		return make([]any, x.n)
	}
	return nil
}

// SubDoc is a subdocument reference found in a document. quire keeps
// subdocuments as references; it does not load them.
type SubDoc struct {
	GUID string
	Opts lib0.Any
}

// mapSet sets key to v (typeMapSet).
func (tx *Transaction) mapSet(parent *branch, key string, v any) error {
	var c content
	switch x := v.(type) {
	case []byte:
		c = &contentBinary{append([]byte(nil), x...)}
	case sharedType:
		b := x.base()
		if b.doc != nil || b.item != nil {
			return fmt.Errorf("%w: the %s is already in a document", ErrValue, b.kind)
		}
		c = &contentType{b}
	default:
		a, err := lib0.Normalize(v)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrValue, err)
		}
		c = &contentAny{[]lib0.Any{a}}
	}
	left := parent.entries[key]
	tx.newLocalItem(left, nil, parent, &key, c).integrate(tx, 0)
	return nil
}

func (tx *Transaction) mapDelete(parent *branch, key string) {
	if it, ok := parent.entries[key]; ok {
		it.delete(tx)
	}
}

// mapGet returns the current value of key.
func (b *branch) mapGet(key string) (any, bool) {
	it, ok := b.entries[key]
	if !ok || it.deleted() {
		return nil, false
	}
	vals := contentValues(it.content)
	return vals[len(vals)-1], true
}

// mapKeys returns the live keys in the order they were first set.
func (b *branch) mapKeys() []string {
	var out []string
	for _, k := range b.entryOrder {
		if it, ok := b.entries[k]; ok && !it.deleted() {
			out = append(out, k)
		}
	}
	return out
}
