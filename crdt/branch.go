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
	markers    []marker
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
	for i := range b.markers {
		b.markers[i].ok = false
	}
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
	// ok caches "p is live and carries flagMarker", the state in which
	// yjs's updateMarkerChanges leaves a marker as it is on insert. It lets
	// an insert skip touching the items of all 80 markers, which cost more
	// than anything else per keystroke. Every path that deletes p or clears
	// its flag clears ok (invalidate).
	ok bool
}

const maxSearchMarkers = 80

func (b *branch) tick() uint64 {
	b.doc.markerClock++
	return b.doc.markerClock
}

// invalidate clears the cached state of the markers at p.
func (b *branch) invalidate(p *item) {
	for i := range b.markers {
		if b.markers[i].p == p {
			b.markers[i].ok = false
		}
	}
}

func (b *branch) overwriteMarker(i int, p *item, index uint64) {
	m := &b.markers[i]
	m.p.flags &^= flagMarker
	b.invalidate(m.p)
	m.p = p
	p.flags |= flagMarker
	m.index = index
	m.timestamp = b.tick()
	m.ok = p.live()
}

// markPosition marks p, reusing the least recently used marker when all
// are taken, and returns the marker's index.
func (b *branch) markPosition(p *item, index uint64) int {
	if len(b.markers) >= maxSearchMarkers {
		oldest := 0
		for i := 1; i < len(b.markers); i++ {
			if b.markers[i].timestamp < b.markers[oldest].timestamp {
				oldest = i
			}
		}
		b.overwriteMarker(oldest, p, index)
		return oldest
	}
	p.flags |= flagMarker
	b.markers = append(b.markers, marker{p: p, index: index, timestamp: b.tick(), ok: p.live()})
	return len(b.markers) - 1
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// findMarker returns a marker at or near index (yjs's findMarker, step for
// step: which marker it picks and moves is observable in the origins of
// later text inserts). ok is false when there is none.
func (b *branch) findMarker(index uint64) (p *item, pindex uint64, ok bool) {
	if b.start == nil || index == 0 || b.markersOff {
		return nil, 0, false
	}
	mi := -1
	if len(b.markers) > 0 {
		mi = 0
		best := absDiff(index, b.markers[0].index)
		for i := 1; i < len(b.markers); i++ {
			// reduce((a, b) => |i-a| < |i-b| ? a : b): ties go to the later one.
			if d := absDiff(index, b.markers[i].index); !(best < d) {
				mi, best = i, d
			}
		}
	}
	p = b.start
	if mi >= 0 {
		m := &b.markers[mi]
		p = m.p
		pindex = m.index
		m.timestamp = b.tick()
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
	if mi >= 0 && float64(absDiff(b.markers[mi].index, pindex)) < float64(p.parent.length)/maxSearchMarkers {
		b.overwriteMarker(mi, p, pindex)
	} else {
		mi = b.markPosition(p, pindex)
	}
	m := &b.markers[mi]
	return m.p, m.index, true
}

// updateMarkers shifts markers after n units were inserted (n > 0) or
// removed (n < 0) at index (yjs's updateMarkerChanges).
func (b *branch) updateMarkers(index uint64, n int64) {
	for i := len(b.markers) - 1; i >= 0; i-- {
		m := &b.markers[i]
		if n > 0 && !m.ok {
			// Other markers at m.p need no invalidation: if m.p is live
			// its flag is set again below; if not, they are not ok already.
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
			m.ok = true
		}
		if index < m.index || (n > 0 && index == m.index) {
			m.index = uint64(max(int64(index), int64(m.index)+n))
		}
	}
}
