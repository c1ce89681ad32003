package crdt

import (
	"github.com/quirehq/quire/crdt/lib0"
)

// sharedType is implemented by the typed views (*Text, *Map, *Array,
// *XmlFragment, *XmlElement, *XmlText, *XmlHook).
type sharedType interface {
	base() *branch
}

// typed returns the view of the branch for its kind.
func (b *branch) typed() any {
	if b.view != nil {
		return b.view
	}
	switch b.kind {
	case kindArray:
		b.view = &Array{b}
	case kindMap:
		b.view = &Map{b}
	case kindText:
		b.view = &Text{b}
	case kindXmlElement:
		b.view = &XmlElement{XmlFragment{b}}
	case kindXmlFragment:
		b.view = &XmlFragment{b}
	case kindXmlHook:
		b.view = &XmlHook{b}
	case kindXmlText:
		b.view = &XmlText{Text{b}}
	default:
		return nil
	}
	return b.view
}

func (b *branch) setEntry(key string, it *item) {
	if _, ok := b.entries[key]; !ok {
		b.entryOrder = append(b.entryOrder, key)
	}
	b.entries[key] = it
}

// edit runs f in a transaction of the branch's document, or records it to
// run when a prelim type is inserted.
func (b *branch) edit(f func(tx *Transaction) error) error {
	if b.doc == nil {
		b.prelim = append(b.prelim, func(tx *Transaction) { _ = f(tx) })
		return nil
	}
	var err error
	b.doc.transact(true, func(tx *Transaction) { err = f(tx) })
	return err
}

// Text returns the root text called name, creating it if needed. Like
// yjs's doc.get, it panics if the root exists as another kind; check
// RootKind first when the name comes from outside.
func (d *Doc) Text(name string) *Text { return d.rootView(name, kindText).(*Text) }

// Map returns the root map called name (see Text for when it panics).
func (d *Doc) Map(name string) *Map { return d.rootView(name, kindMap).(*Map) }

// Array returns the root array called name (see Text for when it panics).
func (d *Doc) Array(name string) *Array { return d.rootView(name, kindArray).(*Array) }

// XmlFragment returns the root XML fragment called name (see Text for when
// it panics).
func (d *Doc) XmlFragment(name string) *XmlFragment {
	return d.rootView(name, kindXmlFragment).(*XmlFragment)
}

func (d *Doc) rootView(name string, kind typeKind) any {
	b := d.root(name, kind)
	return b.typed()
}

// Array is a shared list of values.
type Array struct{ b *branch }

// NewArray returns an array to insert into a document; edits made before
// insertion are applied when it is inserted.
func NewArray() *Array { return &Array{newBranch(kindArray, "")} }

func (a *Array) base() *branch { return a.b }

// Len returns the number of elements.
func (a *Array) Len() int {
	if a.b.doc == nil {
		return len(a.b.prelimList)
	}
	return int(a.b.length)
}

// Insert inserts values at index. Values are JSON-like (nil, bool, numbers,
// strings, []any, map[string]any), []byte, or new shared types.
func (a *Array) Insert(index int, values ...any) error {
	if a.b.doc == nil {
		if index < 0 || index > len(a.b.prelimList) {
			return ErrIndex
		}
		if err := checkValues(values); err != nil {
			return err
		}
		a.b.prelimList = append(a.b.prelimList[:index], append(append([]any(nil), values...), a.b.prelimList[index:]...)...)
		return nil
	}
	if index < 0 {
		return ErrIndex
	}
	return a.b.edit(func(tx *Transaction) error { return tx.listInsert(a.b, uint64(index), values) })
}

// Push appends values.
func (a *Array) Push(values ...any) error { return a.Insert(a.Len(), values...) }

// Delete removes n elements from index.
func (a *Array) Delete(index, n int) error {
	if a.b.doc == nil {
		if index < 0 || n < 0 || index+n > len(a.b.prelimList) {
			return ErrIndex
		}
		a.b.prelimList = append(a.b.prelimList[:index], a.b.prelimList[index+n:]...)
		return nil
	}
	if index < 0 || n < 0 {
		return ErrIndex
	}
	return a.b.edit(func(tx *Transaction) error { return tx.listDelete(a.b, uint64(index), uint64(n)) })
}

// Get returns the element at index.
func (a *Array) Get(index int) (any, bool) {
	if index < 0 {
		return nil, false
	}
	return a.b.listGet(uint64(index))
}

// Values returns all elements; nested types as their views.
func (a *Array) Values() []any { return a.b.listValues() }

// ToJSON returns the array as yjs's toJSON gives it.
func (a *Array) ToJSON() []any { return jsonList(a.b) }

// Map is a shared map from strings to values.
type Map struct{ b *branch }

// NewMap returns a map to insert into a document.
func NewMap() *Map { return &Map{newBranch(kindMap, "")} }

func (m *Map) base() *branch { return m.b }

// Set sets key to v (JSON-like, []byte, or a new shared type).
func (m *Map) Set(key string, v any) error {
	if m.b.doc == nil {
		if _, _, err := valueContent(v); err != nil && v != lib0.Undefined {
			return err
		}
		m.b.prelimMapSet(key, v)
		return nil
	}
	return m.b.edit(func(tx *Transaction) error { return tx.mapSet(m.b, key, v) })
}

// Delete removes key.
func (m *Map) Delete(key string) {
	if m.b.doc == nil {
		m.b.prelimMapDelete(key)
		return
	}
	_ = m.b.edit(func(tx *Transaction) error { tx.mapDelete(m.b, key); return nil })
}

// Get returns the value of key.
func (m *Map) Get(key string) (any, bool) { return m.b.mapGet(key) }

// Has reports whether key is set.
func (m *Map) Has(key string) bool { _, ok := m.b.mapGet(key); return ok }

// Keys returns the keys, in the order they were first set.
func (m *Map) Keys() []string { return m.b.mapKeys() }

// Len returns the number of keys.
func (m *Map) Len() int { return len(m.b.mapKeys()) }

// ToJSON returns the map as yjs's toJSON gives it, keys in JavaScript order.
func (m *Map) ToJSON() *lib0.Object { return jsonMap(m.b) }

func (b *branch) prelimMapSet(key string, v any) {
	for i, kv := range b.prelimMap {
		if kv.key == key {
			b.prelimMap[i].v = v
			return
		}
	}
	b.prelimMap = append(b.prelimMap, prelimEntry{key, v})
}

func (b *branch) prelimMapDelete(key string) {
	for i, kv := range b.prelimMap {
		if kv.key == key {
			b.prelimMap = append(b.prelimMap[:i], b.prelimMap[i+1:]...)
			return
		}
	}
}

type prelimEntry struct {
	key string
	v   any
}

// integratePrelim applies what was done to a type before it was inserted,
// in the order yjs does it for each kind.
func (b *branch) integratePrelim(tx *Transaction) {
	switch b.kind {
	case kindArray, kindXmlFragment, kindXmlElement:
		list := b.prelimList
		b.prelimList = nil
		_ = tx.listInsert(b, 0, list)
		if b.kind == kindXmlElement {
			attrs := b.prelimMap
			b.prelimMap = nil
			for _, kv := range attrs {
				_ = tx.mapSet(b, kv.key, kv.v)
			}
		}
	case kindMap:
		entries := b.prelimMap
		b.prelimMap = nil
		for _, kv := range entries {
			_ = tx.mapSet(b, kv.key, kv.v)
		}
	}
	fs := b.prelim
	b.prelim = nil
	for _, f := range fs {
		f(tx)
	}
}
