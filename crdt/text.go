package crdt

import (
	"fmt"
	"slices"
	"strings"

	"github.com/quirehq/quire/crdt/lib0"
)

// Text is shared rich text: characters, embeds and formatting attributes.
// Indexes and lengths count UTF-16 code units.
type Text struct{ b *branch }

// NewText returns a text to insert into a document.
func NewText() *Text { return &Text{newBranch(kindText, "")} }

func (t *Text) base() *branch { return t.b }

// Attrs are formatting attributes, such as {{"bold", true}}. A nil value
// removes the attribute. They are a list, not a map, because their order
// is the order the format items are created in, which other replicas see:
// it must be the order a JavaScript object literal would have (insertion
// order, for names that are not numbers).
type Attrs []Attr

// Attr is one formatting attribute.
type Attr struct {
	Key   string
	Value any
}

// attrList is an insertion-ordered attribute map: JavaScript Map semantics,
// which yjs uses for current attributes and (for non-numeric keys) plain
// objects alike. The order decides the order of format items yjs creates.
type attrList []attr

type attr struct {
	key string
	v   lib0.Any
}

func (l attrList) get(key string) (lib0.Any, bool) {
	for _, a := range l {
		if a.key == key {
			return a.v, true
		}
	}
	return nil, false
}

// getNull is `map.get(key) ?? null`.
func (l attrList) getNull(key string) lib0.Any {
	v, ok := l.get(key)
	if !ok || v == lib0.Undefined {
		return nil
	}
	return v
}

func (l *attrList) set(key string, v lib0.Any) {
	for i, a := range *l {
		if a.key == key {
			(*l)[i].v = v
			return
		}
	}
	*l = append(*l, attr{key, v})
}

func (l *attrList) del(key string) {
	for i, a := range *l {
		if a.key == key {
			*l = slices.Delete(*l, i, i+1)
			return
		}
	}
}

func (l attrList) clone() attrList { return slices.Clone(l) }

func (l attrList) object() *lib0.Object {
	o := lib0.NewObject()
	for _, a := range l {
		o.Set(a.key, a.v)
	}
	return o
}

func toAttrList(a Attrs) (attrList, error) {
	out := make(attrList, 0, len(a))
	for _, at := range a {
		v, err := lib0.Normalize(at.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: attribute %q: %w", ErrValue, at.Key, err)
		}
		out.set(at.Key, v)
	}
	return out, nil
}

// equalAttrs is yjs's equalAttrs: identity for primitives, a flat
// comparison for objects and arrays.
func equalAttrs(a, b lib0.Any) bool {
	if primEqual(a, b) {
		return true
	}
	switch x := a.(type) {
	case *lib0.Object:
		y, ok := b.(*lib0.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.Keys() {
			xv, _ := x.Get(k)
			yv, ok := y.Get(k)
			if !ok || !primEqual(xv, yv) {
				return false
			}
		}
		return true
	case []lib0.Any:
		y, ok := b.([]lib0.Any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !primEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// primEqual is JavaScript's === on decoded values: objects compare by
// identity.
func primEqual(a, b lib0.Any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, string, lib0.BigInt:
		return a == b
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case *lib0.Object:
		y, ok := b.(*lib0.Object)
		return ok && x == y
	case []lib0.Any:
		y, ok := b.([]lib0.Any)
		return ok && len(x) == len(y) && len(x) > 0 && &x[0] == &y[0]
	}
	return a == lib0.Undefined && b == lib0.Undefined
}

// textPos is a position in a text between left and right, with the
// formatting attributes in effect there (ItemTextListPosition).
type textPos struct {
	left, right *item
	index       uint64
	attrs       attrList
}

func (p *textPos) forward() {
	switch c := p.right.content.(type) {
	case *contentFormat:
		if !p.right.deleted() {
			updateAttrs(&p.attrs, c)
		}
	default:
		if !p.right.deleted() {
			p.index += p.right.len()
		}
	}
	p.left = p.right
	p.right = p.right.right
}

func updateAttrs(l *attrList, f *contentFormat) {
	if f.v == nil {
		l.del(f.key)
	} else {
		l.set(f.key, f.v)
	}
}

func (tx *Transaction) findNextPosition(pos *textPos, count uint64) *textPos {
	for pos.right != nil && count > 0 {
		r := pos.right
		if c, ok := r.content.(*contentFormat); ok {
			if !r.deleted() {
				updateAttrs(&pos.attrs, c)
			}
		} else if !r.deleted() {
			if count < r.len() {
				tx.doc.store.getItemCleanStart(tx, ID{r.id.Client, r.id.Clock + count})
			}
			pos.index += r.len()
			count -= min(count, r.len())
		}
		pos.left = r
		pos.right = r.right
	}
	return pos
}

func (tx *Transaction) findPosition(pos *textPos, t *branch, index uint64, useMarker bool) {
	if useMarker {
		if mp, mi, ok := t.findMarker(index); ok {
			*pos = textPos{left: mp.left, right: mp, index: mi, attrs: pos.attrs[:0]}
			tx.findNextPosition(pos, index-mi)
			return
		}
	}
	*pos = textPos{right: t.start, attrs: pos.attrs[:0]}
	tx.findNextPosition(pos, index)
}

func (tx *Transaction) insertNegatedAttributes(parent *branch, pos *textPos, negated attrList) {
	for pos.right != nil {
		r := pos.right
		if !r.deleted() {
			f, ok := r.content.(*contentFormat)
			if !ok {
				break
			}
			// A key that is not negated never matches, not even a null
			// value: yjs compares against undefined here.
			nv, ok := negated.get(f.key)
			if !ok || !equalAttrs(nv, f.v) {
				break
			}
			negated.del(f.key)
		}
		pos.forward()
	}
	for _, a := range negated {
		it := tx.newLocalItem(pos.left, pos.right, parent, nil, &contentFormat{a.key, a.v})
		it.integrate(tx, 0)
		pos.right = it
		pos.forward()
	}
}

func minimizeAttributeChanges(pos *textPos, attrs attrList) {
	for pos.right != nil {
		r := pos.right
		if !r.deleted() {
			f, ok := r.content.(*contentFormat)
			if !ok || !equalAttrs(attrs.getNull(f.key), f.v) {
				break
			}
		}
		pos.forward()
	}
}

func (tx *Transaction) insertAttributes(parent *branch, pos *textPos, attrs attrList) attrList {
	var negated attrList
	for _, a := range attrs {
		cur := pos.attrs.getNull(a.key)
		if !equalAttrs(cur, a.v) {
			negated.set(a.key, cur)
			it := tx.newLocalItem(pos.left, pos.right, parent, nil, &contentFormat{a.key, a.v})
			it.integrate(tx, 0)
			pos.right = it
			pos.forward()
		}
	}
	return negated
}

// insertText inserts c, or the string s when c is nil, at pos.
func (tx *Transaction) insertText(parent *branch, pos *textPos, c content, s string, attrs attrList) {
	for _, a := range pos.attrs {
		if _, ok := attrs.get(a.key); !ok {
			attrs = append(attrs, attr{a.key, nil})
		}
	}
	minimizeAttributeChanges(pos, attrs)
	negated := tx.insertAttributes(parent, pos, attrs)
	var it *item
	if c == nil {
		it = tx.newStringItem(pos.left, pos.right, parent, s)
	} else {
		it = tx.newLocalItem(pos.left, pos.right, parent, nil, c)
	}
	if !parent.markersOff {
		parent.updateMarkers(pos.index, int64(it.len()))
	}
	index := pos.index
	it.integrate(tx, 0)
	pos.right = it
	pos.index = index
	pos.forward()
	tx.insertNegatedAttributes(parent, pos, negated)
}

func (tx *Transaction) formatText(parent *branch, pos *textPos, length uint64, attrs attrList) {
	minimizeAttributeChanges(pos, attrs)
	negated := tx.insertAttributes(parent, pos, attrs)
loop:
	for pos.right != nil && (length > 0 || (len(negated) > 0 && (pos.right.deleted() || isFormat(pos.right)))) {
		r := pos.right
		if !r.deleted() {
			if f, ok := r.content.(*contentFormat); ok {
				if av, ok := attrs.get(f.key); ok {
					if equalAttrs(av, f.v) {
						negated.del(f.key)
					} else {
						if length == 0 {
							break loop
						}
						negated.set(f.key, f.v)
					}
					r.delete(tx)
				} else {
					pos.attrs.set(f.key, f.v)
				}
			} else {
				if length < r.len() {
					tx.doc.store.getItemCleanStart(tx, ID{r.id.Client, r.id.Clock + length})
				}
				length -= min(length, r.len())
			}
		}
		pos.forward()
	}
	if length > 0 {
		// Formatting past the end appends newlines, as yjs does (Quill's
		// trailing-newline convention).
		it := tx.newLocalItem(pos.left, pos.right, parent, nil, newContentString(strings.Repeat("\n", int(length))))
		it.integrate(tx, 0)
		pos.right = it
		pos.forward()
	}
	tx.insertNegatedAttributes(parent, pos, negated)
}

func isFormat(it *item) bool {
	_, ok := it.content.(*contentFormat)
	return ok
}

// cleanupFormattingGap removes format items made redundant between start and
// curr (yjs's cleanupFormattingGap).
func (tx *Transaction) cleanupFormattingGap(start, curr *item, startAttrs attrList, currAttrs *attrList) int {
	end := start
	var endFormats map[string]*contentFormat
	for end != nil && (!end.countable() || end.deleted()) {
		if !end.deleted() {
			if f, ok := end.content.(*contentFormat); ok {
				if endFormats == nil {
					endFormats = map[string]*contentFormat{}
				}
				endFormats[f.key] = f
			}
		}
		end = end.right
	}
	cleanups := 0
	reachedCurr := false
	for start != end {
		if curr == start {
			reachedCurr = true
		}
		if !start.deleted() {
			if f, ok := start.content.(*contentFormat); ok {
				startVal := startAttrs.getNull(f.key)
				if endFormats[f.key] != f || primEqual(startVal, f.v) {
					start.delete(tx)
					cleanups++
					if !reachedCurr && primEqual(currAttrs.getNull(f.key), f.v) && !primEqual(startVal, f.v) {
						if startVal == nil {
							currAttrs.del(f.key)
						} else {
							currAttrs.set(f.key, startVal)
						}
					}
				}
				if !reachedCurr && !start.deleted() {
					updateAttrs(currAttrs, f)
				}
			}
		}
		start = start.right
	}
	return cleanups
}

func (tx *Transaction) cleanupContextlessFormattingGap(it *item) {
	for it != nil && it.right != nil && (it.right.deleted() || !it.right.countable()) {
		it = it.right
	}
	seen := map[string]bool{}
	for it != nil && (it.deleted() || !it.countable()) {
		if !it.deleted() {
			if f, ok := it.content.(*contentFormat); ok {
				if seen[f.key] {
					it.delete(tx)
				} else {
					seen[f.key] = true
				}
			}
		}
		it = it.left
	}
}

// cleanupTextFormatting removes redundant format items from a whole text.
func (tx *Transaction) cleanupTextFormatting(t *branch) int {
	res := 0
	start := t.start
	end := t.start
	var startAttrs attrList
	curAttrs := startAttrs.clone()
	for end != nil {
		if !end.deleted() {
			if f, ok := end.content.(*contentFormat); ok {
				updateAttrs(&curAttrs, f)
			} else {
				res += tx.cleanupFormattingGap(start, end, startAttrs, &curAttrs)
				startAttrs = curAttrs.clone()
				start = end
			}
		}
		end = end.right
	}
	return res
}

// cleanupTextAfterTransaction runs, in a new transaction, the formatting
// cleanup yjs does after remote changes to formatted text.
func (d *Doc) cleanupTextAfterTransaction(tx *Transaction, changedClients map[uint64]uint64) {
	var full []*branch
	seen := map[*branch]bool{}
	addFull := func(b *branch) {
		if !seen[b] {
			seen[b] = true
			full = append(full, b)
		}
	}
	for _, client := range sortedClientsAsc(changedClients) {
		before := changedClients[client]
		after := d.store.state(client)
		// yjs passes the after clock as the length here; the range then
		// simply runs to the end of the client's structs.
		d.store.iterate(tx, client, before, after, func(it *item) {
			if !it.isGC() && !it.deleted() && isFormat(it) {
				addFull(it.parent)
			}
		})
	}
	d.transact(true, func(t *Transaction) {
		for _, client := range tx.dsOrder {
			dels := tx.deleteSet[client]
			if l := d.store.clients[client]; l == nil || l.len() == 0 {
				continue
			}
			state := d.store.state(client)
			for _, del := range dels {
				if del.clock >= state {
					break
				}
				// Splits here belong to the transaction being cleaned up, as
				// in yjs, so they are merged again before its update is sent.
				d.store.iterate(tx, client, del.clock, del.len, func(it *item) {
					if it.isGC() || !it.parent.hasFormatting || seen[it.parent] {
						return
					}
					if isFormat(it) {
						addFull(it.parent)
					} else {
						t.cleanupContextlessFormattingGap(it)
					}
				})
			}
		}
		for _, b := range full {
			t.cleanupTextFormatting(b)
		}
	})
}

func sortedClientsAsc[V any](m map[uint64]V) []uint64 {
	keys := sortedClientsDesc(m)
	slices.Reverse(keys)
	return keys
}

func (tx *Transaction) deleteText(pos *textPos, length uint64) *textPos {
	startLen := length
	startAttrs := pos.attrs.clone()
	start := pos.right
	for length > 0 && pos.right != nil {
		r := pos.right
		if !r.deleted() {
			switch r.content.(type) {
			case *contentType, *contentEmbed, *contentString:
				if length < r.len() {
					tx.doc.store.getItemCleanStart(tx, ID{r.id.Client, r.id.Clock + length})
				}
				length -= min(length, r.len())
				r.delete(tx)
			}
		}
		pos.forward()
	}
	if start != nil {
		tx.cleanupFormattingGap(start, pos.right, startAttrs, &pos.attrs)
	}
	anchor := pos.left
	if anchor == nil {
		anchor = pos.right
	}
	if anchor != nil {
		if parent := anchor.parent; !parent.markersOff {
			parent.updateMarkers(pos.index, -int64(startLen)+int64(length))
		}
	}
	return pos
}

// Len returns the length in UTF-16 code units.
func (t *Text) Len() int { return int(t.b.length) }

// Insert inserts s at index. With attrs nil the text takes the formatting in
// effect at index; otherwise exactly attrs.
func (t *Text) Insert(index int, s string, attrs Attrs) error {
	if s == "" {
		return nil
	}
	var al attrList
	if attrs != nil {
		var err error
		if al, err = toAttrList(attrs); err != nil {
			return err
		}
	}
	if t.b.doc == nil {
		return t.b.run(func(tx *Transaction) error { return tx.textInsert(t.b, index, s, al, attrs == nil) })
	}
	tx, top := t.b.doc.begin(true)
	err := tx.textInsert(t.b, index, s, al, attrs == nil)
	t.b.doc.end(tx, top)
	return err
}

// run runs f in a transaction, or defers it until a prelim type is
// inserted. Direct calls avoid a closure per edit on the hot path.
func (b *branch) run(f func(tx *Transaction) error) error {
	if b.doc == nil {
		b.prelim = append(b.prelim, func(tx *Transaction) { _ = f(tx) })
		return nil
	}
	tx, top := b.doc.begin(true)
	err := f(tx)
	b.doc.end(tx, top)
	return err
}

func (tx *Transaction) textInsert(b *branch, index int, s string, attrs attrList, inherit bool) error {
	if index < 0 || uint64(index) > b.length {
		return fmt.Errorf("%w: insert at %d, length %d", ErrIndex, index, b.length)
	}
	pos := &tx.pos
	tx.findPosition(pos, b, uint64(index), inherit)
	if inherit {
		attrs = append(attrs[:0:0], pos.attrs...)
	}
	tx.insertText(b, pos, nil, s, attrs)
	return nil
}

// InsertEmbed inserts an embedded object (an image, a mention...) at index.
// A shared type may be embedded too.
func (t *Text) InsertEmbed(index int, embed any, attrs Attrs) error {
	al, err := toAttrList(attrs)
	if err != nil {
		return err
	}
	var c content
	if st, ok := embed.(sharedType); ok {
		if st.base().doc != nil {
			return fmt.Errorf("%w: the %s is already in a document", ErrValue, st.base().kind)
		}
		c = &contentType{st.base()}
	} else {
		v, err := lib0.Normalize(embed)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrValue, err)
		}
		c = &contentEmbed{v}
	}
	return t.b.run(func(tx *Transaction) error {
		if index < 0 || uint64(index) > t.b.length {
			return fmt.Errorf("%w: insert at %d, length %d", ErrIndex, index, t.b.length)
		}
		pos := &tx.pos
		tx.findPosition(pos, t.b, uint64(index), attrs == nil)
		tx.insertText(t.b, pos, c, "", al)
		return nil
	})
}

// Delete removes n code units from index.
func (t *Text) Delete(index, n int) error {
	if n == 0 {
		return nil
	}
	if t.b.doc == nil {
		return t.b.run(func(tx *Transaction) error { return tx.textDelete(t.b, index, n) })
	}
	tx, top := t.b.doc.begin(true)
	err := tx.textDelete(t.b, index, n)
	t.b.doc.end(tx, top)
	return err
}

func (tx *Transaction) textDelete(b *branch, index, n int) error {
	if index < 0 || n < 0 || uint64(index+n) > b.length {
		return fmt.Errorf("%w: delete %d at %d, length %d", ErrIndex, n, index, b.length)
	}
	pos := &tx.pos
	tx.findPosition(pos, b, uint64(index), true)
	tx.deleteText(pos, uint64(n))
	return nil
}

// Format sets attrs on n code units from index.
func (t *Text) Format(index, n int, attrs Attrs) error {
	if n == 0 {
		return nil
	}
	al, err := toAttrList(attrs)
	if err != nil {
		return err
	}
	return t.b.run(func(tx *Transaction) error {
		if index < 0 || n < 0 || uint64(index) > t.b.length {
			return fmt.Errorf("%w: format %d at %d, length %d", ErrIndex, n, index, t.b.length)
		}
		pos := &tx.pos
		tx.findPosition(pos, t.b, uint64(index), false)
		if pos.right == nil {
			return nil
		}
		tx.formatText(t.b, pos, uint64(n), al)
		return nil
	})
}

// String returns the text without formatting or embeds.
func (t *Text) String() string { return t.b.textString() }

func (b *branch) textString() string {
	var sb strings.Builder
	for n := b.start; n != nil; n = n.right {
		if n.live() {
			if c, ok := n.content.(*contentString); ok {
				sb.Write(c.b)
			}
		}
	}
	return sb.String()
}

// Delta is one operation of a rich-text delta (Quill's format). ToDelta
// gives inserts only; ApplyDelta also takes retains and deletes. An op is
// an insert when Insert is not nil, else a retain when Retain > 0, else a
// delete of Delete units.
type Delta struct {
	// Insert is a string, an embed value, or a nested shared type.
	Insert any
	// Attributes are the formatting of an insert or retain, nil if none.
	Attributes *lib0.Object
	Retain     int
	Delete     int
}

// ApplyDelta applies a delta from the start of the text in one
// transaction, as yjs's applyDelta does: inserts carry exactly their
// attributes, retains format, deletes delete.
func (t *Text) ApplyDelta(delta []Delta) error {
	return t.b.run(func(tx *Transaction) error {
		pos := &textPos{right: t.b.start}
		for _, op := range delta {
			var attrs attrList
			if op.Attributes != nil {
				for _, k := range op.Attributes.Keys() {
					v, _ := op.Attributes.Get(k)
					attrs.set(k, v)
				}
			}
			switch {
			case op.Insert != nil:
				switch x := op.Insert.(type) {
				case string:
					if x != "" {
						tx.insertText(t.b, pos, nil, x, attrs)
					}
				case sharedType:
					if x.base().doc != nil {
						return fmt.Errorf("%w: the %s is already in a document", ErrValue, x.base().kind)
					}
					tx.insertText(t.b, pos, &contentType{x.base()}, "", attrs)
				default:
					v, err := lib0.Normalize(x)
					if err != nil {
						return fmt.Errorf("%w: %w", ErrValue, err)
					}
					tx.insertText(t.b, pos, &contentEmbed{v}, "", attrs)
				}
			case op.Retain > 0:
				tx.formatText(t.b, pos, uint64(op.Retain), attrs)
			case op.Delete > 0:
				tx.deleteText(pos, uint64(op.Delete))
			}
		}
		return nil
	})
}

// ToDelta returns the content as a delta.
func (t *Text) ToDelta() []Delta { return t.b.delta() }

func (b *branch) delta() []Delta {
	var ops []Delta
	var cur attrList
	var sb strings.Builder
	pack := func() {
		if sb.Len() > 0 {
			op := Delta{Insert: sb.String()}
			if len(cur) > 0 {
				op.Attributes = cur.object()
			}
			ops = append(ops, op)
			sb.Reset()
		}
	}
	for n := b.start; n != nil; n = n.right {
		if n.deleted() {
			continue
		}
		switch c := n.content.(type) {
		case *contentString:
			sb.Write(c.b)
		case *contentType, *contentEmbed:
			pack()
			op := Delta{Insert: contentValues(c)[0]}
			if len(cur) > 0 {
				op.Attributes = cur.object()
			}
			ops = append(ops, op)
		case *contentFormat:
			pack()
			updateAttrs(&cur, c)
		}
	}
	pack()
	return ops
}
