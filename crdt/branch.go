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
	markers    markers
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
	for i := range b.markers.ok {
		b.markers.ok[i] = false
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

// markers remember that items start at given indexes in their parent,
// so that index lookups need not walk the list from its start. They follow
// yjs's search markers exactly (see findMarker). The fields are parallel
// slices, one entry per marker, because the hot loops scan one field of
// all 80 markers on every keystroke.
type markers struct {
	p     []*item
	index []uint64
	time  []uint64
	// ok caches "p is live and carries flagMarker", the state in which
	// yjs's updateMarkerChanges leaves a marker as it is on insert. It lets
	// an insert skip touching the items of all markers. Every path that
	// deletes p or clears its flag clears ok (invalidate).
	ok []bool
}

func (m *markers) len() int { return len(m.p) }

func (m *markers) reset() {
	clear(m.p)
	m.p, m.index, m.time, m.ok = m.p[:0], m.index[:0], m.time[:0], m.ok[:0]
}

func (m *markers) add(p *item, index, time uint64, ok bool) {
	m.p = append(m.p, p)
	m.index = append(m.index, index)
	m.time = append(m.time, time)
	m.ok = append(m.ok, ok)
}

func (m *markers) remove(i int) {
	m.p = append(m.p[:i], m.p[i+1:]...)
	m.index = append(m.index[:i], m.index[i+1:]...)
	m.time = append(m.time[:i], m.time[i+1:]...)
	m.ok = append(m.ok[:i], m.ok[i+1:]...)
}

// invalidate clears the cached state of the markers at p.
func (m *markers) invalidate(p *item) {
	for i, q := range m.p {
		if q == p {
			m.ok[i] = false
		}
	}
}

// moved is called when right merges into left: markers at right move to
// left, whose length comes before them.
func (m *markers) moved(right, left *item) {
	for i, q := range m.p {
		if q == right {
			m.p[i] = left
			left.addFlags(flagMarkerRef)
			m.ok[i] = false
			if left.live() {
				m.index[i] -= left.len()
			}
		}
	}
}

const maxSearchMarkers = 80

func (b *branch) tick() uint64 {
	b.doc.markerClock++
	return b.doc.markerClock
}

func (b *branch) overwriteMarker(i int, p *item, index uint64) {
	m := &b.markers
	m.p[i].clearFlags(flagMarker)
	m.invalidate(m.p[i])
	m.p[i] = p
	p.addFlags(flagMarker | flagMarkerRef)
	m.index[i] = index
	m.time[i] = b.tick()
	m.ok[i] = p.live()
}

// markPosition marks p, reusing the least recently used marker when all
// are taken, and returns the marker's index.
func (b *branch) markPosition(p *item, index uint64) int {
	m := &b.markers
	if m.len() >= maxSearchMarkers {
		oldest := 0
		for i, t := range m.time {
			if t < m.time[oldest] {
				oldest = i
			}
		}
		b.overwriteMarker(oldest, p, index)
		return oldest
	}
	p.addFlags(flagMarker | flagMarkerRef)
	m.add(p, index, b.tick(), p.live())
	return m.len() - 1
}

// absDiff is |a-b|, without a branch: it runs 80 times per keystroke on
// unpredictable inputs. Indexes stay far below 2^63.
func absDiff(a, b uint64) uint64 {
	x := int64(a - b)
	mask := x >> 63
	return uint64((x ^ mask) - mask)
}

// findMarker returns a marker at or near index (yjs's findMarker, step for
// step: which marker it picks and moves is observable in the origins of
// later text inserts). ok is false when there is none.
func (b *branch) findMarker(index uint64) (p *item, pindex uint64, ok bool) {
	if b.start == nil || index == 0 || b.markersOff {
		return nil, 0, false
	}
	m := &b.markers
	mi := -1
	if n := m.len(); n > 0 {
		mi = 0
		best := absDiff(index, m.index[0])
		for i := 1; i < n; i++ {
			// reduce((a, b) => |i-a| < |i-b| ? a : b): ties go to the later one.
			if d := absDiff(index, m.index[i]); d <= best {
				mi, best = i, d
			}
		}
	}
	p = b.start
	if mi >= 0 {
		p = m.p[mi]
		pindex = m.index[mi]
		m.time[mi] = b.tick()
	}
	for p.right != nil && pindex < index {
		if p.live() {
			if index < pindex+p.len() {
				break
			}
			pindex += p.len()
		}
		p = p.right
	}
	for p.left != nil && pindex > index {
		p = p.left
		if p.live() {
			pindex -= p.len()
		}
	}
	// Never mark an item that may merge into its left neighbour.
	for p.left != nil && p.left.id.Client == p.id.Client && p.left.id.Clock+p.left.len() == p.id.Clock {
		p = p.left
		if p.live() {
			pindex -= p.len()
		}
	}
	if mi >= 0 && float64(absDiff(m.index[mi], pindex)) < float64(p.parent.length)/maxSearchMarkers {
		b.overwriteMarker(mi, p, pindex)
	} else {
		mi = b.markPosition(p, pindex)
	}
	return m.p[mi], m.index[mi], true
}

// updateMarkers shifts markers after n units were inserted (n > 0) or
// removed (n < 0) at index (yjs's updateMarkerChanges).
func (b *branch) updateMarkers(index uint64, n int64) {
	m := &b.markers
	for i := m.len() - 1; i >= 0; i-- {
		if n > 0 && !m.ok[i] {
			// Other markers at m.p need no invalidation: if m.p is live
			// its flag is set again below; if not, they are not ok already.
			p := m.p[i]
			p.clearFlags(flagMarker)
			for p != nil && (p.deleted() || !p.countable()) {
				p = p.left
				if p != nil && p.live() {
					m.index[i] -= p.len()
				}
			}
			if p == nil || p.marker() {
				m.remove(i)
				continue
			}
			m.p[i] = p
			p.addFlags(flagMarker | flagMarkerRef)
			m.ok[i] = true
		}
		m.index[i] = shiftIndex(m.index[i], index, n)
	}
}

// shiftIndex moves a marker index for a change of n units at index: on
// insert, markers at or after index move by n; on delete, markers after
// index move back, but not before index. Written without branches for
// the compiler: per marker, which way it goes is a coin toss.
func shiftIndex(mi, index uint64, n int64) uint64 {
	if n > 0 {
		add := uint64(0)
		if mi >= index {
			add = uint64(n)
		}
		return mi + add
	}
	d := uint64(-n)
	v := mi - min(d, mi)
	if v < index {
		v = index
	}
	if mi <= index {
		v = mi
	}
	return v
}
