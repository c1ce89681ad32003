package crdt

// item flags. The first four mirror the info bits of yjs's Item; the rest
// replace nullable fields.
const (
	flagKeep uint16 = 1 << iota
	flagCountable
	flagDeleted
	flagMarker
	flagGC // a GC struct: deleted content whose parent is gone; never in a list
	flagOrigin
	flagRightOrigin
	flagParentSub
	// flagMarkerRef: a search marker has pointed at this item at some
	// time. Never cleared; it lets a merge skip looking for markers to move
	// when none can point at the item merged away.
	flagMarkerRef
)

// item is one struct in the store: a run of content inserted by one client
// with consecutive clocks, or a GC struct. Items of a type form a doubly
// linked list in document order (left/right), tombstones included.
type item struct {
	id          ID
	lf          uint64 // length in the low 53 bits, flags above: see len and flags
	left, right *item
	origin      ID // valid with flagOrigin: the ID left of the insert position at creation
	rightOrigin ID // valid with flagRightOrigin
	parent      *branch
	// parentSub is the map key, set with flagParentSub. A pointer, not a
	// string, because most items have none and a string header would cost
	// every item 8 bytes more; the items split from one share it.
	parentSub *string
	content   content
}

// sub returns the map key of the item, "" for none.
func (it *item) sub() string {
	if it.parentSub == nil {
		return ""
	}
	return *it.parentSub
}

// An item's length and flags share one word: lengths stay below 2^53
// (clocks do, see clockLimit), which leaves the top 11 bits for the 9
// flags, and the item 8 bytes smaller than with a field each.
const (
	lenBits = 53
	lenMask = 1<<lenBits - 1
)

// The highest flag must fit above the length: this fails to compile if not.
const _ uint64 = uint64(flagMarkerRef) << lenBits

// packLF returns the length-and-flags word of an item.
func packLF(n uint64, flags uint16) uint64 {
	if n > lenMask {
		panic("crdt: item length above 2^53-1")
	}
	return n | uint64(flags)<<lenBits
}

// len returns the item's length in clock units.
func (it *item) len() uint64 { return it.lf & lenMask }

func (it *item) setLen(n uint64) {
	if n > lenMask {
		panic("crdt: item length above 2^53-1")
	}
	it.lf = it.lf&^lenMask | n
}

func (it *item) flags() uint16       { return uint16(it.lf >> lenBits) }
func (it *item) addFlags(f uint16)   { it.lf |= uint64(f) << lenBits }
func (it *item) clearFlags(f uint16) { it.lf &^= uint64(f) << lenBits }

func (it *item) has(f uint16) bool { return it.flags()&f != 0 }
func (it *item) set(f uint16, on bool) {
	if on {
		it.addFlags(f)
	} else {
		it.clearFlags(f)
	}
}
func (it *item) deleted() bool   { return it.flags()&flagDeleted != 0 }
func (it *item) countable() bool { return it.flags()&flagCountable != 0 }
func (it *item) isGC() bool      { return it.flags()&flagGC != 0 }
func (it *item) keep() bool      { return it.flags()&flagKeep != 0 }
func (it *item) marker() bool    { return it.flags()&flagMarker != 0 }

func (it *item) lastID() ID { return ID{it.id.Client, it.id.Clock + it.len() - 1} }

// live reports whether the item is visible content that counts toward its
// parent's length.
func (it *item) live() bool { return it.flags()&(flagDeleted|flagCountable) == flagCountable }

func (it *item) originPtr() *ID {
	if it.has(flagOrigin) {
		return &it.origin
	}
	return nil
}

// next returns the next undeleted item to the right.
func (it *item) next() *item {
	n := it.right
	for n != nil && n.deleted() {
		n = n.right
	}
	return n
}

// prev returns the next undeleted item to the left.
func (it *item) prev() *item {
	n := it.left
	for n != nil && n.deleted() {
		n = n.left
	}
	return n
}

func sameOrigin(aHas bool, a ID, bHas bool, b ID) bool {
	return aHas == bHas && (!aHas || a == b)
}

// splitItem cuts left at diff and returns the right part, linked in after
// it. It does not touch the store's struct array; callers insert the result.
func (tx *Transaction) splitItem(left *item, diff uint64) *item {
	right := tx.doc.newItem()
	*right = item{
		id:          ID{left.id.Client, left.id.Clock + diff},
		lf:          packLF(left.len()-diff, left.flags()&(flagRightOrigin|flagParentSub|flagDeleted|flagKeep|flagCountable)|flagOrigin),
		left:        left,
		origin:      ID{left.id.Client, left.id.Clock + diff - 1},
		right:       left.right,
		rightOrigin: left.rightOrigin,
		parent:      left.parent,
		parentSub:   left.parentSub,
		content:     left.content.splice(diff, left.len()),
	}
	// left keeps its rightOrigin: changing it would change what it syncs as.
	left.right = right
	if right.right != nil {
		right.right.left = right
	}
	tx.mergeStructs = append(tx.mergeStructs, right)
	if right.has(flagParentSub) && right.right == nil {
		right.parent.setEntry(*right.parentSub, right)
	}
	left.setLen(diff)
	return right
}

// integrate links the item into its parent, resolving concurrent inserts at
// the same position the way YATA (and yjs) does, then adds it to the store.
// offset > 0 integrates only the part of the item from that clock on.
func (it *item) integrate(tx *Transaction, offset uint64) {
	store := tx.doc.store
	if offset > 0 {
		it.id.Clock += offset
		it.left = store.getItemCleanEnd(tx, ID{it.id.Client, it.id.Clock - 1})
		it.origin = it.left.lastID()
		it.addFlags(flagOrigin)
		it.content = it.content.splice(offset, it.len())
		it.setLen(it.len() - offset)
	}
	p := it.parent
	if (it.left == nil && (it.right == nil || it.right.left != nil)) || (it.left != nil && it.left.right != it.right) {
		left := it.left
		var o *item
		if left != nil {
			o = left.right
		} else if it.has(flagParentSub) {
			o = p.entries[*it.parentSub]
			for o != nil && o.left != nil {
				o = o.left
			}
		} else {
			o = p.start
		}
		// Items between left and right were inserted concurrently at the same
		// spot (or after one that was). Yjs orders them by origin, then client.
		conflicting := tx.doc.scratchSet(0)
		before := tx.doc.scratchSet(1)
		for o != nil && o != it.right {
			before[o] = struct{}{}
			conflicting[o] = struct{}{}
			if sameOrigin(it.has(flagOrigin), it.origin, o.has(flagOrigin), o.origin) {
				if o.id.Client < it.id.Client {
					left = o
					clear(conflicting)
				} else if sameOrigin(it.has(flagRightOrigin), it.rightOrigin, o.has(flagRightOrigin), o.rightOrigin) {
					break
				}
			} else if o.has(flagOrigin) {
				oo := store.find(o.origin)
				if _, ok := before[oo]; ok {
					if _, ok := conflicting[oo]; !ok {
						left = o
						clear(conflicting)
					}
				} else {
					break
				}
			} else {
				break
			}
			o = o.right
		}
		clear(conflicting)
		clear(before)
		it.left = left
	}
	if it.left != nil {
		it.right = it.left.right
		it.left.right = it
	} else {
		var r *item
		if it.has(flagParentSub) {
			r = p.entries[*it.parentSub]
			for r != nil && r.left != nil {
				r = r.left
			}
		} else {
			r = p.start
			p.start = it
		}
		it.right = r
	}
	if it.right != nil {
		it.right.left = it
	} else if it.has(flagParentSub) {
		p.setEntry(*it.parentSub, it)
		if it.left != nil {
			// The new rightmost item is the key's value; the old one goes.
			it.left.delete(tx)
		}
	}
	if !it.has(flagParentSub) && it.live() {
		p.length += it.len()
	}
	tx.addStruct(it)
	it.integrateContent(tx)
	tx.addChangedType(p, it.has(flagParentSub), it.sub())
	if (p.item != nil && p.item.deleted()) || (it.has(flagParentSub) && it.right != nil) {
		it.delete(tx)
	}
}

func (it *item) integrateContent(tx *Transaction) {
	switch c := it.content.(type) {
	case *contentDeleted:
		tx.addDelete(it.id.Client, it.id.Clock, c.n)
		it.addFlags(flagDeleted)
	case *contentFormat:
		it.parent.markers.reset()
		it.parent.markersOff = true
		it.parent.hasFormatting = true
	case *contentType:
		c.t.integrate(tx.doc, it)
	}
}

// delete marks the item deleted and records it in the transaction.
func (it *item) delete(tx *Transaction) {
	if it.deleted() {
		return
	}
	p := it.parent
	if it.countable() && !it.has(flagParentSub) {
		p.length -= it.len()
	}
	it.addFlags(flagDeleted)
	if it.marker() {
		p.markers.invalidate(it)
	}
	tx.addDelete(it.id.Client, it.id.Clock, it.len())
	tx.addChangedType(p, it.has(flagParentSub), it.sub())
	if c, ok := it.content.(*contentType); ok {
		c.t.deleteChildren(tx)
	}
}

// gc drops the content of a deleted item. With parentGCd the whole struct
// becomes a GC struct, as the items of a deleted type do.
func (it *item) gc(store *structStore, parentGCd bool) {
	if c, ok := it.content.(*contentType); ok {
		c.t.gcChildren(store)
	}
	if parentGCd {
		// Replace in place: the store's slot keeps pointing at this object.
		*it = item{id: it.id, lf: packLF(it.len(), flagGC|flagDeleted)}
		return
	}
	if _, ok := it.content.(*contentDeleted); !ok {
		// Deleted content that arrived deleted already is what yjs would
		// put in its place; replacing it cost a load one allocation per
		// deleted struct.
		it.content = &contentDeleted{it.len()}
	}
}

// mergeWith appends right to it when both are one run of content.
func (it *item) mergeWith(right *item) bool {
	if !it.canMerge(right) {
		return false
	}
	if it.isGC() {
		it.setLen(it.len() + right.len())
		return true
	}
	it.content.mergeWith(right.content) // always succeeds for the kinds canMerge lets through
	if p := it.parent; p != nil {
		if right.has(flagMarkerRef) {
			p.markers.moved(right, it)
		}
	}
	if right.keep() {
		it.addFlags(flagKeep)
	}
	it.right = right.right
	if it.right != nil {
		it.right.left = it
	}
	it.setLen(it.len() + right.len())
	return true
}

// canMerge reports whether mergeWith would merge right into it. It depends
// only on the two items' positions, IDs and kinds, none of which merging
// right into its own right neighbour changes, so a run of mergeable
// neighbours can be found first and merged left to right.
func (it *item) canMerge(right *item) bool {
	if it.isGC() || right.isGC() {
		return it.isGC() && right.isGC()
	}
	return right.has(flagOrigin) && right.origin == it.lastID() &&
		it.right == right &&
		sameOrigin(it.has(flagRightOrigin), it.rightOrigin, right.has(flagRightOrigin), right.rightOrigin) &&
		it.id.Client == right.id.Client &&
		it.id.Clock+it.len() == right.id.Clock &&
		it.deleted() == right.deleted() &&
		sameContentKind(it.content, right.content)
}

func sameContentKind(a, b content) bool {
	switch a.(type) {
	case *contentString:
		_, ok := b.(*contentString)
		return ok
	case *contentDeleted:
		_, ok := b.(*contentDeleted)
		return ok
	case *contentAny:
		_, ok := b.(*contentAny)
		return ok
	case *contentJSON:
		_, ok := b.(*contentJSON)
		return ok
	}
	return false
}

// write encodes the item from offset on (Item.write in yjs), through the
// struct-ref writer so that both share one encoding.
func (it *item) write(enc updateEncoder, offset uint64) {
	if it.isGC() {
		enc.writeInfo(refGC)
		enc.writeLen(it.len() - offset)
		return
	}
	r := structRef{
		id:          it.id,
		length:      it.len(),
		kind:        it.content.ref(),
		flags:       it.flags() & (flagOrigin | flagRightOrigin | flagParentSub),
		origin:      it.origin,
		rightOrigin: it.rightOrigin,
		parentSub:   it.sub(),
		content:     it.content,
	}
	if p := it.parent; p.item == nil {
		r.parentKind, r.parentName = parentRoot, p.rootName
	} else {
		r.parentKind, r.parentID = parentID, p.item.id
	}
	r.write(enc, offset)
}
