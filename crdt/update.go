package crdt

import (
	"errors"
	"fmt"
	"slices"
	gosync "sync"
)

// Errors a malformed update can produce. Every decoding error wraps
// ErrMalformed.
var (
	ErrMalformed         = errors.New("crdt: malformed update")
	errInvalidContentRef = fmt.Errorf("%w: unknown content type", ErrMalformed)
	errInvalidTypeRef    = fmt.Errorf("%w: unknown shared type", ErrMalformed)
	errTooLarge          = fmt.Errorf("%w: more structs than the update can hold", ErrMalformed)
	errClockOverflow     = fmt.Errorf("%w: clock out of range", ErrMalformed)
	errClockLimit        = fmt.Errorf("%w: clock at or above 2^52, which v2 cannot encode", ErrMalformed)
)

// maxClock keeps clocks within JavaScript's safe integers, as yjs needs.
// It is the bound of the update functions, which may pass through what v1
// can carry; a Doc accepts less (clockLimit).
const maxClock = 1<<53 - 1

// clockLimit bounds the clocks a Doc accepts, so that whatever it accepts it
// can encode again in both formats: every struct must end at or below it,
// and every ID a struct names (origin, right origin, parent) must lie below
// it. v1 writes clocks as varUints, which lib0 reads up to 2^53-1; v2 writes
// origin and parent clocks as differences from the previous one in a column,
// doubled plus a run bit, in a varInt that lib0 reads up to 2^53-1 as well.
// The column starts at 0 and a Doc writes IDs in an order of its own (struct
// order, pending structs merged, slices at a state vector), so any accepted
// clock may follow any other: only clocks in [0, 2^52) keep every such
// difference d within |2d+1| <= 2^53-1. A struct ending above 2^52 would own
// an ID that a split or a later struct could write as an origin.
const clockLimit = 1 << 52

// parent kinds of a struct read from an update.
const (
	parentNone = iota // copied from the origin (or right origin) when integrated
	parentRoot        // a root type, by name
	parentID          // the type held by the item with this ID
)

// structRef is a struct as read from an update, before integration: its
// neighbours and parent are still IDs and names.
type structRef struct {
	id          ID
	length      uint64
	kind        uint8  // refGC, refSkip, or the content ref of an item
	flags       uint16 // flagOrigin, flagRightOrigin, flagParentSub
	parentKind  uint8
	origin      ID
	rightOrigin ID
	parentID    ID
	parentName  string  // with parentRoot
	parentRoot  *branch // with parentRoot, when read into a Doc
	parentSub   string
	content     content
}

func (r *structRef) has(f uint16) bool { return r.flags&f != 0 }

// refsEncodable reports whether the IDs the ref names are below clockLimit.
func (r *structRef) refsEncodable() bool {
	return !(r.has(flagOrigin) && r.origin.Clock >= clockLimit ||
		r.has(flagRightOrigin) && r.rightOrigin.Clock >= clockLimit ||
		r.parentKind == parentID && r.parentID.Clock >= clockLimit)
}

// write encodes the ref from offset on, as the struct it stands for would be.
func (r *structRef) write(enc updateEncoder, offset uint64) {
	switch r.kind {
	case refGC:
		enc.writeInfo(refGC)
		enc.writeLen(r.length - offset)
		return
	case refSkip:
		enc.writeInfo(refSkip)
		enc.rest().WriteVarUint(r.length - offset)
		return
	}
	hasOrigin := offset > 0 || r.has(flagOrigin)
	origin := r.origin
	if offset > 0 {
		origin = ID{r.id.Client, r.id.Clock + offset - 1}
	}
	info := r.kind & 0x1F
	if hasOrigin {
		info |= 0x80
	}
	if r.has(flagRightOrigin) {
		info |= 0x40
	}
	if r.has(flagParentSub) {
		info |= 0x20
	}
	enc.writeInfo(info)
	if hasOrigin {
		enc.writeLeftID(origin)
	}
	if r.has(flagRightOrigin) {
		enc.writeRightID(r.rightOrigin)
	}
	if !hasOrigin && !r.has(flagRightOrigin) {
		switch r.parentKind {
		case parentRoot:
			enc.writeParentInfo(true)
			enc.writeString(r.parentName)
		default:
			enc.writeParentInfo(false)
			enc.writeLeftID(r.parentID)
		}
		if r.has(flagParentSub) {
			enc.writeString(r.parentSub)
		}
	}
	r.content.write(enc, offset, r.length)
}

// clientRefs are the structs of one client in an update, with a cursor.
type clientRefs struct {
	i    int
	refs []structRef
}

// readClientsStructRefs decodes the struct part of an update. Root types it
// names are created in d (when not nil), as yjs does. limit bounds the number
// of structs (a header may claim more than the bytes can hold).
func readClientsStructRefs(dec updateDecoder, d *Doc, limit int) (map[uint64]*clientRefs, error) {
	return readClientsStructRefsInto(dec, d, limit, nil)
}

// bigRefs is the size from which a decode buffer is shared between docs
// through refsPool instead of kept by one: loading documents would
// otherwise allocate and zero megabytes each time, and every loaded
// document would keep the buffer of its largest update.
const bigRefs = 4096

var refsPool gosync.Pool

// release gives a large decode buffer back to the pool, and drops the
// decoded deletions, which would otherwise stay alive with an idle Doc.
func (sc *decodeScratch) release() {
	clear(sc.ds)
	if cap(sc.refs) >= bigRefs {
		clear(sc.refs[:cap(sc.refs)])
		buf := sc.refs[:0]
		refsPool.Put(&buf)
		sc.refs = nil
		sc.crs = nil
		sc.byClient = nil
	}
}

// decodeScratch keeps the buffers of update decoding between updates, so
// that applying a one-keystroke update allocates little. What is decoded
// into it is dead once the update is applied: content is allocated apart,
// and structs left pending are encoded into bytes before returning.
type decodeScratch struct {
	byClient map[uint64]*clientRefs
	crs      []clientRefs
	refs     []structRef
	ids      []uint64
	stack    []*structRef
	state    clockMap
	ds       deleteSet
	dsOrder  []uint64
}

func readClientsStructRefsInto(dec updateDecoder, d *Doc, limit int, sc *decodeScratch) (map[uint64]*clientRefs, error) {
	rest := dec.rest()
	var out map[uint64]*clientRefs
	var refsBuf []structRef
	var cs contentSlabs
	if sc != nil {
		if sc.byClient == nil {
			sc.byClient = map[uint64]*clientRefs{}
		}
		clear(sc.byClient)
		out = sc.byClient
		sc.crs = sc.crs[:0]
		clear(sc.refs)
		refsBuf = sc.refs[:0]
	} else {
		out = map[uint64]*clientRefs{}
	}
	numClients := rest.ReadVarUint()
	total := 0
	for c := uint64(0); c < numClients && dec.err() == nil; c++ {
		n := rest.ReadVarUint()
		client := dec.readClient()
		clock := rest.ReadVarUint()
		if dec.err() != nil {
			break
		}
		if n > uint64(limit-total) {
			return nil, errTooLarge
		}
		total += int(n)
		var cr *clientRefs
		start := len(refsBuf)
		if sc != nil {
			if cap(sc.crs) > len(sc.crs) {
				sc.crs = sc.crs[:len(sc.crs)+1]
			} else {
				// A new backing array: earlier pointers keep the old one.
				sc.crs = append(make([]clientRefs, 0, 2*cap(sc.crs)+1), sc.crs...)
				sc.crs = sc.crs[:len(sc.crs)+1]
			}
			cr = &sc.crs[len(sc.crs)-1]
			*cr = clientRefs{}
			// Grow once for the whole client rather than by doubling; the
			// claimed count is bounded by limit, and by 1<<16 per step.
			want := int(min(n, 1<<16))
			if cap(refsBuf)-len(refsBuf) < want && len(refsBuf) == 0 && want >= bigRefs {
				if p, ok := refsPool.Get().(*[]structRef); ok && cap(*p) >= want {
					refsBuf = (*p)[:0]
				}
			}
			refsBuf = slices.Grow(refsBuf, want)
		} else {
			cr = &clientRefs{}
			refsBuf = make([]structRef, 0, min(n, 4096))
			start = 0
		}
		out[client] = cr
		for i := uint64(0); i < n && dec.err() == nil; i++ {
			info := dec.readInfo()
			// Fill the ref in place: a struct ref is large to copy.
			refsBuf = append(refsBuf, structRef{})
			r := &refsBuf[len(refsBuf)-1]
			readStruct(dec, info, client, clock, r, &cs, n-i, true)
			if dec.err() != nil {
				refsBuf = refsBuf[:len(refsBuf)-1]
				break
			}
			if r.parentKind == parentRoot && d != nil {
				r.parentRoot = d.root(r.parentName, kindUnknown)
			}
			if r.length == 0 {
				return nil, errClockOverflow
			}
			if r.length > clockLimit-min(clock, clockLimit) || !r.refsEncodable() {
				return nil, errClockLimit
			}
			clock += r.length
		}
		cr.refs = refsBuf[start:len(refsBuf):len(refsBuf)]
	}
	if sc != nil {
		sc.refs = refsBuf
	}
	if err := dec.err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return out, nil
}

// ownStrings moves the text of the string contents in refs, which alias
// the update they were decoded from, into one buffer of exactly their
// size. The Doc then keeps that rather than the update: a document's text
// is a fraction of its encoding, which also holds IDs, origins and the
// lengths of deleted content. It also frees the caller to reuse the update.
func ownStrings(refs map[uint64]*clientRefs) {
	n := 0
	for _, cr := range refs {
		for i := range cr.refs {
			if c, ok := cr.refs[i].content.(*contentString); ok {
				n += len(c.b)
			}
		}
	}
	if n == 0 {
		return
	}
	buf := make([]byte, 0, n)
	for _, cr := range refs {
		for i := range cr.refs {
			if c, ok := cr.refs[i].content.(*contentString); ok {
				start := len(buf)
				buf = append(buf, c.b...)
				// Capped, so that a merge appending to it copies.
				c.b = buf[start:len(buf):len(buf)]
			}
		}
	}
}

// readStruct decodes the struct whose info byte was just read, for client
// at clock. skipByRef follows the Doc reader of yjs, for which any info
// with content ref 10 is a Skip; its lazy reader (merge, diff) takes only
// the byte 10 itself as Skip, and anything else with ref 10 is an error.
// slabs, when not nil, allocates contents in chunks (left structs remain).
func readStruct(dec updateDecoder, info byte, client, clock uint64, r *structRef, slabs *contentSlabs, left uint64, skipByRef bool) {
	*r = structRef{id: ID{client, clock}, kind: info & 0x1F}
	switch {
	case info == refSkip || skipByRef && r.kind == refSkip:
		r.kind = refSkip
		r.length = dec.rest().ReadVarUint()
	case r.kind == refGC:
		r.length = dec.readLen()
	default:
		if info&0x80 != 0 {
			r.origin = dec.readLeftID()
			r.flags |= flagOrigin
		}
		if info&0x40 != 0 {
			r.rightOrigin = dec.readRightID()
			r.flags |= flagRightOrigin
		}
		if info&0xC0 == 0 {
			if dec.readParentInfo() {
				r.parentKind = parentRoot
				r.parentName = dec.readString()
			} else {
				r.parentKind = parentID
				r.parentID = dec.readLeftID()
			}
			if info&0x20 != 0 {
				r.parentSub = dec.readString()
				r.flags |= flagParentSub
			}
		}
		// With an origin the key is not on the wire: it is copied from
		// the origin when the struct is integrated. Until then the struct
		// has no key, and yjs writes it back without the 0x20 bit.
		if slabs != nil {
			r.content = slabs.read(dec, info, left)
		} else {
			r.content = readContent(dec, info)
		}
		if r.content != nil {
			r.length = r.content.length()
		}
	}
}

// getMissing resolves a ref's neighbours and parent. If something it
// depends on has not arrived it returns that client and true.
func (r *structRef) getMissing(tx *Transaction, left, right **item, parent **branch) (uint64, bool) {
	store := tx.doc.store
	if r.has(flagOrigin) && r.origin.Client != r.id.Client && r.origin.Clock >= store.state(r.origin.Client) {
		return r.origin.Client, true
	}
	if r.has(flagRightOrigin) && r.rightOrigin.Client != r.id.Client && r.rightOrigin.Clock >= store.state(r.rightOrigin.Client) {
		return r.rightOrigin.Client, true
	}
	if r.parentKind == parentID && r.id.Client != r.parentID.Client && r.parentID.Clock >= store.state(r.parentID.Client) {
		return r.parentID.Client, true
	}
	// Same-client dependencies are older clocks of this client: present,
	// because structs of a client are integrated in clock order. A forged
	// update can still point at its own future; treat that as missing too.
	if r.has(flagOrigin) && r.origin.Clock >= store.state(r.origin.Client) ||
		r.has(flagRightOrigin) && r.rightOrigin.Clock >= store.state(r.rightOrigin.Client) ||
		r.parentKind == parentID && r.parentID.Clock >= store.state(r.parentID.Client) {
		return r.id.Client, true
	}
	*left, *right, *parent = nil, nil, nil
	if r.has(flagOrigin) {
		*left = store.getItemCleanEnd(tx, r.origin)
		r.origin = (*left).lastID()
	}
	if r.has(flagRightOrigin) {
		*right = store.getItemCleanStart(tx, r.rightOrigin)
		r.rightOrigin = (*right).id
	}
	if (*left != nil && (*left).isGC()) || (*right != nil && (*right).isGC()) {
		return 0, false
	}
	switch r.parentKind {
	case parentNone:
		if *left != nil {
			*parent = (*left).parent
			r.parentSub = (*left).sub()
			r.flags = r.flags&^flagParentSub | (*left).flags()&flagParentSub
		} else if *right != nil {
			*parent = (*right).parent
			r.parentSub = (*right).sub()
			r.flags = r.flags&^flagParentSub | (*right).flags()&flagParentSub
		}
	case parentRoot:
		*parent = r.parentRoot
	case parentID:
		if pi := store.find(r.parentID); !pi.isGC() {
			if ct, ok := pi.content.(*contentType); ok {
				*parent = ct.t
			}
		}
	}
	return 0, false
}

// integrateRef integrates the part of r from offset on.
func (tx *Transaction) integrateRef(r *structRef, offset uint64, left, right *item, parent *branch) {
	d := tx.doc
	if r.kind == refGC || parent == nil {
		gc := d.newItem()
		*gc = item{id: ID{r.id.Client, r.id.Clock + offset}, lf: packLF(r.length-offset, flagGC|flagDeleted)}
		tx.addStruct(gc)
		return
	}
	it := d.newItem()
	*it = item{
		id:          r.id,
		lf:          packLF(r.length, r.flags),
		left:        left,
		right:       right,
		origin:      r.origin,
		rightOrigin: r.rightOrigin,
		parent:      parent,
		content:     r.content,
	}
	if r.has(flagParentSub) {
		// The key came from a neighbour when the ref has one: share it.
		switch {
		case left != nil && left.parentSub != nil && *left.parentSub == r.parentSub:
			it.parentSub = left.parentSub
		case right != nil && right.parentSub != nil && *right.parentSub == r.parentSub:
			it.parentSub = right.parentSub
		default:
			key := r.parentSub
			it.parentSub = &key
		}
	}
	if r.content.countable() {
		it.addFlags(flagCountable)
	}
	it.integrate(tx, offset)
}

// integrateStructs integrates the refs of an update in causal order
// (yjs's integrateStructs, which decides what becomes pending). It returns
// the structs that could not be integrated, as a v2 update, with the lowest
// clock per client that would unblock them.
func (tx *Transaction) integrateStructs(clientsRefs map[uint64]*clientRefs) *pendingUpdate {
	if len(clientsRefs) == 0 {
		return nil
	}
	store := tx.doc.store
	sc := &tx.doc.scratchDec
	ids := sc.ids[:0]
	for c, cr := range clientsRefs {
		ids = append(ids, c)
		if len(cr.refs) >= 64 {
			// A large update (a document load): grow the client's struct
			// array once instead of by doubling.
			store.list(c).grow(len(cr.refs))
		}
	}
	slices.Sort(ids)
	defer func() { sc.ids = ids[:0] }()
	nextTarget := func() *clientRefs {
		for len(ids) > 0 {
			t := clientsRefs[ids[len(ids)-1]]
			if t.i < len(t.refs) {
				return t
			}
			ids = ids[:len(ids)-1]
		}
		return nil
	}
	cur := nextTarget()
	if cur == nil {
		return nil
	}
	var rest map[uint64][]structRef
	var missingSV map[uint64]uint64
	updateMissing := func(client, clock uint64) {
		if missingSV == nil {
			missingSV = map[uint64]uint64{}
		}
		if m, ok := missingSV[client]; !ok || m > clock {
			missingSV[client] = clock
		}
	}
	stack := sc.stack[:0]
	defer func() { clear(stack); sc.stack = stack[:0] }()
	addStackToRest := func() {
		if rest == nil {
			rest = map[uint64][]structRef{}
		}
		for _, r := range stack {
			client := r.id.Client
			if cr, ok := clientsRefs[client]; ok {
				cr.i--
				rest[client] = cr.refs[cr.i:]
				delete(clientsRefs, client)
				cr.i = 0
				cr.refs = nil
			} else {
				rest[client] = []structRef{*r}
			}
			ids = slices.DeleteFunc(ids, func(c uint64) bool { return c == client })
		}
		stack = stack[:0]
	}
	head := &cur.refs[cur.i]
	cur.i++
	state := &sc.state
	state.reset()
	var left, right *item
	var parent *branch
	for {
		if head.kind != refSkip {
			local, ok := state.get(head.id.Client)
			if !ok {
				local = store.state(head.id.Client)
				state.set(head.id.Client, local)
			}
			if local < head.id.Clock {
				stack = append(stack, head)
				updateMissing(head.id.Client, head.id.Clock-1)
				addStackToRest()
			} else {
				offset := local - head.id.Clock
				var missing uint64
				var isMissing bool
				if head.kind != refGC {
					missing, isMissing = head.getMissing(tx, &left, &right, &parent)
				}
				if isMissing {
					stack = append(stack, head)
					refs, ok := clientsRefs[missing]
					if !ok || refs.i == len(refs.refs) {
						updateMissing(missing, store.state(missing))
						addStackToRest()
					} else {
						head = &refs.refs[refs.i]
						refs.i++
						continue
					}
				} else if offset == 0 || offset < head.length {
					tx.integrateRef(head, offset, left, right, parent)
					state.set(head.id.Client, head.id.Clock+head.length)
				}
			}
		}
		if len(stack) > 0 {
			head = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		} else if cur != nil && cur.i < len(cur.refs) {
			head = &cur.refs[cur.i]
			cur.i++
		} else {
			cur = nextTarget()
			if cur == nil {
				break
			}
			head = &cur.refs[cur.i]
			cur.i++
		}
	}
	if len(rest) == 0 {
		return nil
	}
	enc := newUpdateEncoderV2()
	writeRefs(enc, rest)
	enc.rest().WriteVarUint(0) // no deletions
	return &pendingUpdate{missing: missingSV, update: enc.toBytes()}
}

// writeRefs writes not-yet-integrated structs, highest client first.
func writeRefs(enc updateEncoder, refs map[uint64][]structRef) {
	enc.rest().WriteVarUint(uint64(len(refs)))
	for _, client := range sortedClientsDesc(refs) {
		rs := refs[client]
		enc.rest().WriteVarUint(uint64(len(rs)))
		enc.writeClient(client)
		enc.rest().WriteVarUint(rs[0].id.Clock)
		for i := range rs {
			rs[i].write(enc, 0)
		}
	}
}

// applyDeleteSet applies decoded deletions and returns those of structs not
// yet present (yjs's readAndApplyDeleteSet).
func (tx *Transaction) applyDeleteSet(ds deleteSet, order []uint64) deleteSet {
	store := tx.doc.store
	var unapplied deleteSet
	addUnapplied := func(client, clock, n uint64) {
		if unapplied == nil {
			unapplied = deleteSet{}
		}
		unapplied.add(client, clock, n)
	}
	for _, client := range order {
		state := store.state(client)
		for _, d := range ds[client] {
			clock, end := d.clock, d.clock+d.len
			if d.len == 0 {
				continue // yjs never writes one; it would only split an item
			}
			if clock >= state {
				addUnapplied(client, clock, end-clock)
				continue
			}
			if state < end {
				addUnapplied(client, state, end-state)
			}
			l := store.clients[client]
			i := l.find(clock)
			it := l.items[i]
			if !it.deleted() && it.id.Clock < clock {
				l.insert(i+1, tx.splitItem(it, clock-it.id.Clock))
				i++
			}
			for i < l.len() {
				it = l.items[i]
				i++
				if it.id.Clock >= end {
					break
				}
				if !it.deleted() {
					if end < it.id.Clock+it.len() {
						l.insert(i, tx.splitItem(it, end-it.id.Clock))
					}
					it.delete(tx)
				}
			}
		}
	}
	return unapplied
}

// encodeDeleteSetUpdate encodes deletions alone as a v2 update. Ranges are
// sorted and merged first: yjs writes them as they came, but only a forged
// update has them out of order, and v2 cannot encode that.
func encodeDeleteSetUpdate(ds deleteSet) []byte {
	ds.sortAndMerge()
	enc := newUpdateEncoderV2()
	enc.rest().WriteVarUint(0)
	writeDeleteSet(enc, ds)
	return enc.toBytes()
}

// writeStructs writes the structs of client from clock on.
func writeStructs(enc updateEncoder, l *structList, client, clock uint64) {
	structs := l.items
	clock = max(clock, structs[0].id.Clock)
	start := l.find(clock)
	enc.rest().WriteVarUint(uint64(len(structs) - start))
	enc.writeClient(client)
	enc.rest().WriteVarUint(clock)
	first := structs[start]
	first.write(enc, clock-first.id.Clock)
	for _, it := range structs[start+1:] {
		it.write(enc, 0)
	}
}

// writeClientsStructs writes, for every client with structs past the given
// clock (and every client sv does not name, from 0), those structs.
func writeClientsStructs(enc updateEncoder, store *structStore, sv map[uint64]uint64) {
	sm := map[uint64]uint64{}
	for client, clock := range sv {
		if store.state(client) > clock {
			sm[client] = clock
		}
	}
	for client, l := range store.clients {
		// A client can have an empty list: integrateStructs makes and
		// grows it for a large update before knowing that none of its
		// structs can be integrated yet (they wait, pending). Nothing to
		// write then (writeStructs needs one struct).
		if _, ok := sv[client]; !ok && l.len() > 0 {
			sm[client] = 0
		}
	}
	writeClientsStructsFrom(enc, store, sm)
}

// writeClientsStructsFrom writes the structs of exactly the clients in sm,
// each from its clock on, highest client first.
func writeClientsStructsFrom(enc updateEncoder, store *structStore, sm map[uint64]uint64) {
	enc.rest().WriteVarUint(uint64(len(sm)))
	for _, client := range sortedClientsDesc(sm) {
		writeStructs(enc, store.clients[client], client, sm[client])
	}
}
