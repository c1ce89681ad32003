package crdt

import (
	"slices"
	"sort"
)

// Summary stands in for a replica where a caller only needs to relay
// updates: it holds what a document has, as a state vector and a delete
// set, and tells from an update's bytes what the update adds, without
// integrating anything. A server keeps a document it only relays as its
// encoding plus a Summary, a fraction of the memory of a Doc
// (docs/benchmarks.md).
//
// An update can be judged this way when a Doc would integrate all of it at
// once: every struct it adds continues its client's clock, every ID it
// names (origin, right origin, parent, deletion) is in the document or
// among the structs it adds, in an order in which they can be integrated.
// What it adds is then the structs beyond the state vector and the
// deletions the document lacks. Anything else, a Doc must decide: gaps and
// missing dependencies (which a Doc keeps pending), a client listed twice,
// and anything malformed or beyond what a Doc accepts (for which it returns
// the error). Absorb then reports false and changes nothing.
//
// The delete set holds the deletions updates name. A replica also deletes,
// on integration, a map value that lost to a concurrent one and an item
// that lands in a deleted type; every replica does so alike, so a Summary
// that lacks those only relays such a deletion once more when a peer
// names it.
//
// A Summary is not safe for concurrent use.
type Summary struct {
	sv map[uint64]uint64
	ds deleteSet // sorted and merged per client
	// svBytes caches the encoded state vector until it changes.
	svBytes []byte
}

// NewSummary summarizes the document a v1 update holds whole (a snapshot,
// or a snapshot merged with the log after it). ok is false when the update
// is not self-contained (it has gaps, or structs that depend on something
// it lacks): only a Doc can hold that document.
func NewSummary(state []byte) (s *Summary, ok bool) {
	s = &Summary{sv: map[uint64]uint64{}, ds: deleteSet{}}
	if _, ok := s.absorb(state, false); !ok {
		return nil, false
	}
	// A summary may be kept for as long as its document is open, and its
	// first absorb added a range per deleted struct before merging them,
	// several times what remains: keep exactly what remains.
	for c, r := range s.ds {
		s.ds[c] = slices.Clone(r)
	}
	return s, true
}

// Summary returns the summary of the document, as NewSummary would of its
// encoded state, without encoding it. ok is false when something in the
// document waits for a dependency.
func (d *Doc) Summary() (s *Summary, ok bool) {
	if d.PendingSize() > 0 {
		return nil, false
	}
	// Sorted and merged by construction: a client's structs are in clock
	// order and neighbours are joined.
	return &Summary{sv: d.store.stateVector(), ds: deleteSetFromStore(d.store)}, true
}

// StateVector returns the encoded state vector of the document.
func (s *Summary) StateVector() []byte {
	if s.svBytes == nil {
		s.svBytes = EncodeStateVector(s.sv)
	}
	return s.svBytes
}

// UpdateFor returns what a peer whose encoded state vector is sv lacks of
// the document when it lacks none of its structs: an update of the delete
// set alone (which a peer may lack whatever its state vector). ok is false
// when the peer lacks structs; the caller then diffs the encoded state
// (DiffUpdate). This is the common answer to a returning peer's sync step
// 1, and it costs the delete set, not a pass over the whole document.
func (s *Summary) UpdateFor(sv []byte) (update []byte, ok bool, err error) {
	peer, err := DecodeStateVector(sv)
	if err != nil {
		return nil, false, err
	}
	for client, clock := range s.sv {
		if peer[client] < clock {
			return nil, false, nil
		}
	}
	enc := newUpdateEncoderV1()
	enc.rest().WriteVarUint(0) // no structs
	writeDeleteSet(enc, s.ds)
	return enc.toBytes(), true, nil
}

// Absorb judges a v1 update against the document. When a Doc would
// integrate all of it, Absorb records it and returns what it adds as a v1
// update (nil when it adds nothing; update itself when all of it is new)
// and true. Otherwise it returns false, and the caller must apply the
// update to a Doc holding the document.
func (s *Summary) Absorb(update []byte) (added []byte, ok bool) {
	return s.absorb(update, true)
}

// absorb is Absorb; it returns the added update only with write set.
func (s *Summary) absorb(update []byte, write bool) ([]byte, bool) {
	blocks, ok := readBlocks(update)
	if !ok {
		return nil, false
	}
	// have is the state vector as the update's structs integrate; only
	// the clients the update touches are copied.
	have := make(map[uint64]uint64, len(blocks.clients))
	for _, b := range blocks.clients {
		have[b.client] = s.sv[b.client]
	}
	known := func(id ID) bool {
		if c, ok := have[id.Client]; ok {
			return id.Clock < c
		}
		return id.Clock < s.sv[id.Client]
	}
	if !integrate(&blocks, have, known) {
		return nil, false
	}
	// Deletions must name structs the document will have; the new ones
	// are what the document's delete set lacks. trim is set when the
	// update holds anything the document has: then what it adds must be
	// written anew, else it is the update itself.
	trim := false
	var newDs deleteSet
	for client, ranges := range blocks.ds {
		for _, r := range ranges {
			if r.len == 0 {
				trim = true
				continue
			}
			if !known(ID{client, r.clock + r.len - 1}) {
				return nil, false // a Doc keeps it pending
			}
			pieces := subtractRanges(r, s.ds[client])
			if len(pieces) != 1 || pieces[0] != r {
				trim = true
			}
			for _, piece := range pieces {
				if newDs == nil {
					newDs = deleteSet{}
				}
				newDs.add(client, piece.clock, piece.len)
			}
		}
	}

	// Structs that arrive deleted (GC, deleted content) are in the
	// document's delete set from now on, as a Doc's would be. They stay
	// out of the added update's delete set: its structs say so.
	wrote := false
	var touched []uint64 // clients whose deletions grow
	for i := range blocks.clients {
		b := &blocks.clients[i]
		base := s.sv[b.client]
		for j := range b.refs {
			r := &b.refs[j]
			if r.clock < base {
				trim = true
			}
			if r.clock+r.length <= base {
				continue
			}
			wrote = true
			if r.kind == refGC || r.kind == refDeleted {
				from := max(r.clock, base)
				s.ds.add(b.client, from, r.clock+r.length-from)
				if len(touched) == 0 || touched[len(touched)-1] != b.client {
					touched = append(touched, b.client)
				}
			}
		}
	}
	if !wrote && len(newDs) == 0 {
		return nil, true
	}
	var enc updateEncoder
	if write && trim {
		// A second pass writes what the first judged: the structs beyond
		// the state vector, the first of each client cut where it starts.
		enc = newUpdateEncoderV1()
		w := newLazyWriter(enc)
		r := newLazyReader(newDecoder(update, false), newReadBudget(len(update)), false)
		for cur := r.curr(); cur != nil; cur = r.next() {
			base := s.sv[cur.id.Client]
			if end := cur.id.Clock + cur.length; end > base {
				w.write(cur, base-min(base, cur.id.Clock))
			}
		}
		w.finish()
		newDs.sortAndMerge()
		writeDeleteSet(enc, newDs)
	}
	for client, ranges := range newDs {
		s.ds[client] = append(s.ds[client], ranges...)
		touched = append(touched, client)
	}
	for _, client := range touched {
		s.ds.sortAndMergeClient(client)
	}
	changed := false
	for client, clock := range have {
		if clock != s.sv[client] {
			s.sv[client] = clock
			changed = true
		}
	}
	if changed {
		s.svBytes = nil
	}
	switch {
	case !write:
		return nil, true
	case !trim:
		return update, true
	}
	return enc.toBytes(), true
}

// slimRef is what Absorb needs of a struct: where it is and what it names.
type slimRef struct {
	clock, length       uint64
	origin, rightOrigin ID
	parent              ID // with parentIsID
	flags               uint16
	kind                uint8
	parentIsID          bool
}

// summaryBlock is the structs of one client in an update, in clock order.
type summaryBlock struct {
	client uint64
	refs   []slimRef
	next   int // the next struct to integrate
}

type summaryBlocks struct {
	clients []summaryBlock
	index   map[uint64]int // client -> position in clients
	ds      deleteSet
}

// readBlocks decodes an update for Absorb. It reports false for anything a
// Doc must judge: malformed input (the lazy reader is stricter than the
// Doc's in places, and the Doc's error is the one to give), clocks a Doc
// refuses, Skip structs, and a client listed twice.
func readBlocks(update []byte) (summaryBlocks, bool) {
	bs := summaryBlocks{index: map[uint64]int{}}
	// A Doc keeps the last block of a client listed twice, even an empty
	// one: leave those to it.
	twice := false
	headers := map[uint64]bool{}
	r := newLazyReaderHooked(newDecoder(update, false), newReadBudget(len(update)), false, func(client uint64) {
		twice = twice || headers[client]
		headers[client] = true
	})
	for cur := r.curr(); cur != nil; cur = r.next() {
		if twice {
			return bs, false
		}
		if cur.kind == refSkip {
			return bs, false
		}
		if cur.id.Clock+cur.length > clockLimit || !cur.refsEncodable() {
			return bs, false
		}
		i, seen := bs.index[cur.id.Client]
		if !seen {
			i = len(bs.clients)
			bs.index[cur.id.Client] = i
			bs.clients = append(bs.clients, summaryBlock{client: cur.id.Client})
		}
		b := &bs.clients[i]
		b.refs = append(b.refs, slimRef{clock: cur.id.Clock, length: cur.length,
			origin: cur.origin, rightOrigin: cur.rightOrigin, parent: cur.parentID,
			flags: cur.flags, kind: cur.kind, parentIsID: cur.parentKind == parentID})
	}
	if r.err != nil || twice {
		return bs, false
	}
	ds, err := r.readDeleteSet(len(update))
	if err != nil {
		return bs, false
	}
	for _, ranges := range ds {
		for _, d := range ranges {
			if d.clock+d.len > clockLimit {
				return bs, false
			}
		}
	}
	bs.ds = ds
	return bs, true
}

// integrate advances every block over the structs whose references are
// known, following a reference into the block that provides it, as a
// Doc's integration does with its stack. It reports false when some
// struct can never be integrated: its reference is missing, or two blocks
// wait on each other.
func integrate(bs *summaryBlocks, have map[uint64]uint64, known func(ID) bool) bool {
	type want struct {
		block int
		until uint64 // pop once the block's clock passes this
	}
	onStack := make([]bool, len(bs.clients))
	var stack []want
	for start := range bs.clients {
		if bs.clients[start].next == len(bs.clients[start].refs) {
			continue
		}
		stack = append(stack[:0], want{start, maxClock})
		onStack[start] = true
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			b := &bs.clients[top.block]
			if b.next == len(b.refs) || have[b.client] > top.until {
				onStack[top.block] = false
				stack = stack[:len(stack)-1]
				continue
			}
			r := &b.refs[b.next]
			if r.clock > have[b.client] {
				return false // a gap
			}
			// Structs the document has are checked too: a Doc leaves one
			// pending when it names something missing, and what follows
			// it with it.
			dep, missing := firstUnknown(r, known)
			if !missing {
				have[b.client] = max(have[b.client], r.clock+r.length)
				b.next++
				continue
			}
			i, ok := bs.index[dep.Client]
			if !ok || onStack[i] {
				return false
			}
			p := &bs.clients[i]
			if last := &p.refs[len(p.refs)-1]; p.next == len(p.refs) || last.clock+last.length <= dep.Clock {
				return false // no block provides it
			}
			stack = append(stack, want{i, dep.Clock})
			onStack[i] = true
		}
	}
	return true
}

// firstUnknown returns the first ID r names that is not known yet.
func firstUnknown(r *slimRef, known func(ID) bool) (ID, bool) {
	if r.kind == refGC {
		return ID{}, false
	}
	if r.flags&flagOrigin != 0 && !known(r.origin) {
		return r.origin, true
	}
	if r.flags&flagRightOrigin != 0 && !known(r.rightOrigin) {
		return r.rightOrigin, true
	}
	if r.parentIsID && r.flags&(flagOrigin|flagRightOrigin) == 0 && !known(r.parent) {
		return r.parent, true
	}
	return ID{}, false
}

// subtractRanges returns the parts of r that none of the sorted, merged
// ranges covers.
func subtractRanges(r deleteRange, sorted []deleteRange) []deleteRange {
	end := r.clock + r.len
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i].clock+sorted[i].len > r.clock })
	var out []deleteRange
	cur := r.clock
	for ; i < len(sorted) && sorted[i].clock < end; i++ {
		if sorted[i].clock > cur {
			out = append(out, deleteRange{cur, sorted[i].clock - cur})
		}
		cur = max(cur, sorted[i].clock+sorted[i].len)
	}
	if cur < end {
		out = append(out, deleteRange{cur, end - cur})
	}
	return out
}
