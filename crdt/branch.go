package crdt

// typeKind is the type reference yjs writes for a nested type.
type typeKind uint8

const (
	kindArray       typeKind = 0
	kindMap         typeKind = 1
	kindText        typeKind = 2
	kindXmlElement  typeKind = 3
	kindXmlFragment typeKind = 4
	kindXmlHook     typeKind = 5
	kindXmlText     typeKind = 6
	// kindUnknown is a root type known only by name, as yjs's plain
	// AbstractType: an update named it before anyone asked for its kind.
	kindUnknown typeKind = 255
)

// branch is a shared type: the list of items (start) for sequences, the
// map of keys to their rightmost item (entries) for maps and attributes.
// All typed views (Text, Map, Array, Xml*) are branches.
type branch struct {
	doc      *Doc
	item     *item // the item holding this type; nil for a root
	rootName string
	start    *item
	entries  map[string]*item
	length   uint64 // live countable length of the list, in clock units
	kind     typeKind
	name     string // node name of an XmlElement, hook name of an XmlHook

	// markers cache positions in the list so index lookups need not walk it
	// from the start. They are part of what yjs does: where they point
	// decides which origins a text insert gets, so they follow yjs's rules.
	markers    []*marker
	markersOff bool // formatting disables markers for good, as in yjs
	// hasFormatting: the text has (had) format items; remote changes then
	// trigger formatting cleanup.
	hasFormatting bool

	entryOrder []string // keys of entries in the order first set (JS Map order)

	// Edits made before the type was inserted into a document, replayed
	// when it is, in the shape yjs replays them for each kind.
	prelim     []func(tx *Transaction)
	prelimList []any
	prelimMap  []prelimEntry
	view       any // the typed wrapper handed to callers
}

func newBranch(kind typeKind, name string) *branch {
	b := &branch{kind: kind, name: name, entries: map[string]*item{}}
	if kind != kindArray && kind != kindText && kind != kindXmlText {
		b.markersOff = true
	}
	return b
}

func (b *branch) integrate(d *Doc, it *item) {
	b.doc = d
	b.item = it
	b.integratePrelim(d.tx)
}

// deleteChildren deletes everything in a type being deleted (ContentType.delete).
func (b *branch) deleteChildren(tx *Transaction) {
	for it := b.start; it != nil; it = it.right {
		if !it.deleted() {
			it.delete(tx)
		} else if it.id.Clock < tx.beforeState(it.id.Client) {
			// Already deleted before: not in this transaction's delete set,
			// but it may merge once collected.
			tx.mergeStructs = append(tx.mergeStructs, it)
		}
	}
	for _, k := range sortedKeysForDeletion(b.entries) {
		it := b.entries[k]
		if !it.deleted() {
			it.delete(tx)
		} else if it.id.Clock < tx.beforeState(it.id.Client) {
			tx.mergeStructs = append(tx.mergeStructs, it)
		}
	}
	tx.changed.remove(b)
}

// sortedKeysForDeletion returns map keys in a deterministic order. The
// order only decides the order of delete-set entries, which are sorted
// before they are written, so any fixed order gives yjs's bytes.
func sortedKeysForDeletion(m map[string]*item) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// gcChildren turns the items of a collected type into GC structs.
func (b *branch) gcChildren(store *structStore) {
	for it := b.start; it != nil; {
		next := it.right
		it.gc(store, true)
		it = next
	}
	b.start = nil
	for _, it := range b.entries {
		for it != nil {
			next := it.left
			it.gc(store, true)
			it = next
		}
	}
	b.entries = map[string]*item{}
	b.entryOrder = nil
}

// marker remembers that the item p starts at index in its parent.
type marker struct {
	p         *item
	index     uint64
	timestamp uint64
}

const maxSearchMarkers = 80

func (b *branch) newMarker(p *item, index uint64) *marker {
	p.flags |= flagMarker
	b.doc.markerClock++
	return &marker{p: p, index: index, timestamp: b.doc.markerClock}
}

func (b *branch) overwriteMarker(m *marker, p *item, index uint64) {
	m.p.flags &^= flagMarker
	m.p = p
	p.flags |= flagMarker
	m.index = index
	b.doc.markerClock++
	m.timestamp = b.doc.markerClock
}

func (b *branch) markPosition(p *item, index uint64) *marker {
	if len(b.markers) >= maxSearchMarkers {
		oldest := b.markers[0]
		for _, m := range b.markers[1:] {
			if m.timestamp < oldest.timestamp {
				oldest = m
			}
		}
		b.overwriteMarker(oldest, p, index)
		return oldest
	}
	m := b.newMarker(p, index)
	b.markers = append(b.markers, m)
	return m
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// findMarker returns a marker at or near index (yjs's findMarker, step for
// step: which marker it picks and moves is observable in the origins of
// later text inserts).
func (b *branch) findMarker(index uint64) *marker {
	if b.start == nil || index == 0 || b.markersOff {
		return nil
	}
	var m *marker
	if len(b.markers) > 0 {
		m = b.markers[0]
		for _, x := range b.markers[1:] {
			// reduce((a, b) => |i-a| < |i-b| ? a : b): ties go to the later one.
			if !(absDiff(index, m.index) < absDiff(index, x.index)) {
				m = x
			}
		}
	}
	p := b.start
	var pindex uint64
	if m != nil {
		p = m.p
		pindex = m.index
		b.doc.markerClock++
		m.timestamp = b.doc.markerClock
	}
	for p.right != nil && pindex < index {
		if p.live() {
			if index < pindex+p.length {
				break
			}
			pindex += p.length
		}
		p = p.right
	}
	for p.left != nil && pindex > index {
		p = p.left
		if p.live() {
			pindex -= p.length
		}
	}
	// Never mark an item that may merge into its left neighbour.
	for p.left != nil && p.left.id.Client == p.id.Client && p.left.id.Clock+p.left.length == p.id.Clock {
		p = p.left
		if p.live() {
			pindex -= p.length
		}
	}
	if m != nil && float64(absDiff(m.index, pindex)) < float64(p.parent.length)/maxSearchMarkers {
		b.overwriteMarker(m, p, pindex)
		return m
	}
	return b.markPosition(p, pindex)
}

// updateMarkers shifts markers after len units were inserted (len > 0) or
// removed (len < 0) at index.
func (b *branch) updateMarkers(index uint64, n int64) {
	for i := len(b.markers) - 1; i >= 0; i-- {
		m := b.markers[i]
		if n > 0 {
			p := m.p
			p.flags &^= flagMarker
			for p != nil && (p.deleted() || !p.countable()) {
				p = p.left
				if p != nil && p.live() {
					m.index -= p.length
				}
			}
			if p == nil || p.marker() {
				b.markers = append(b.markers[:i], b.markers[i+1:]...)
				continue
			}
			m.p = p
			p.flags |= flagMarker
		}
		if index < m.index || (n > 0 && index == m.index) {
			m.index = uint64(max(int64(index), int64(m.index)+n))
		}
	}
}
