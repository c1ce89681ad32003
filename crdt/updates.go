package crdt

import (
	"errors"
	"fmt"

	"github.com/quirehq/quire/crdt/lib0"
)

// This file works on encoded updates without a Doc, the way yjs's
// src/utils/updates.js does: structs are streamed from each update, merged
// or filtered, and streamed out again. Being byte-identical with yjs means
// copying its choices, quirks included; the comments below point them out.

var (
	errV2NegativeDelta = fmt.Errorf("%w: delete-set ranges out of order cannot be written as v2", ErrMalformed)
	errV2EmptyRange    = fmt.Errorf("%w: empty delete-set range cannot be written as v2", ErrMalformed)
	errEmptyStruct     = fmt.Errorf("%w: struct of length 0", ErrMalformed)
	errV2ClockRange    = fmt.Errorf("%w: an origin or parent clock at or above 2^52 cannot be written as v2", ErrMalformed)
)

// encoded returns what enc holds, or an error where v2 could not express
// it: lib0 could not read back its clock columns.
func encoded(enc updateEncoder) ([]byte, error) {
	if e, ok := enc.(*updateEncoderV2); ok && e.clockRange {
		return nil, errV2ClockRange
	}
	return enc.toBytes(), nil
}

// malformed makes sure err wraps ErrMalformed.
func malformed(err error) error {
	if err == nil || errors.Is(err, ErrMalformed) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

func newDecoder(update []byte, v2 bool) updateDecoder {
	if v2 {
		return newUpdateDecoderV2(update)
	}
	return newUpdateDecoderV1(update)
}

func newEncoder(v2 bool) updateEncoder {
	if v2 {
		return newUpdateEncoderV2()
	}
	return newUpdateEncoderV1()
}

// lazyReader yields the structs of one update one at a time, in wire order,
// like yjs's LazyStructReader. It does not use readClientsStructRefs because
// that groups structs by client: wire order, a client listed twice and the
// parentSub quirk below all show in what yjs writes back.
type lazyReader struct {
	dec         updateDecoder
	filterSkips bool
	budget      *readBudget
	clients     uint64 // client blocks not yet started
	structs     uint64 // structs left in the current block
	client      uint64
	clock       uint64
	cur         structRef
	done        bool
	err         error
	// onBlock, when set, sees every client block header, empty blocks
	// included (which yield no struct).
	onBlock func(client uint64)
}

// readBudget bounds what the readers of one call may produce, so that work
// and output stay proportional to the input. Run-length columns let a few
// bytes of v2 claim billions of structs, and a v2 key clock names an
// earlier key again for free while every writer spells the key out: a
// small update could otherwise expand quadratically. Neither limit is
// reached by anything yjs writes (its encoders never reuse a key).
type readBudget struct {
	structs  int
	keyBytes int
}

func newReadBudget(size int) *readBudget {
	return &readBudget{structs: updateLimit(size), keyBytes: 2*size + 1024}
}

func newLazyReader(dec updateDecoder, budget *readBudget, filterSkips bool) *lazyReader {
	return newLazyReaderHooked(dec, budget, filterSkips, nil)
}

// newLazyReaderHooked is newLazyReader with an onBlock hook, which sees
// the first header too.
func newLazyReaderHooked(dec updateDecoder, budget *readBudget, filterSkips bool, onBlock func(client uint64)) *lazyReader {
	r := &lazyReader{dec: dec, filterSkips: filterSkips, budget: budget, onBlock: onBlock}
	r.clients = dec.rest().ReadVarUint()
	r.next()
	return r
}

// curr is the current struct, nil at the end or after an error. It is
// overwritten by next, so callers copy what they keep.
func (r *lazyReader) curr() *structRef {
	if r.done {
		return nil
	}
	return &r.cur
}

func (r *lazyReader) next() *structRef {
	for r.read() {
		if !r.filterSkips || r.cur.kind != refSkip {
			return &r.cur
		}
	}
	r.done = true
	return nil
}

func (r *lazyReader) fail(err error) bool {
	if r.err == nil {
		r.err = malformed(err)
	}
	return false
}

func (r *lazyReader) read() bool {
	dec := r.dec
	rest := dec.rest()
	if r.err != nil {
		return false
	}
	for r.structs == 0 {
		if err := dec.err(); err != nil {
			return r.fail(err)
		}
		if r.clients == 0 {
			return false
		}
		r.clients--
		r.structs = rest.ReadVarUint()
		r.client = dec.readClient()
		r.clock = rest.ReadVarUint()
		if r.onBlock != nil && dec.err() == nil {
			r.onBlock(r.client)
		}
	}
	r.structs--
	if r.budget.structs == 0 {
		return r.fail(errTooLarge)
	}
	r.budget.structs--
	info := dec.readInfo()
	var s structRef
	readStruct(dec, info, r.client, r.clock, &s, nil, 0, false)
	switch c := s.content.(type) {
	case *contentFormat:
		r.budget.keyBytes -= len(c.key)
	case *contentType:
		r.budget.keyBytes -= len(c.t.name)
	}
	if r.budget.keyBytes < 0 {
		return r.fail(errTooLarge)
	}
	if err := dec.err(); err != nil {
		return r.fail(err)
	}
	if s.length == 0 {
		// yjs never writes one, and the merge below would not advance.
		return r.fail(errEmptyStruct)
	}
	if s.length > maxClock || r.clock > maxClock-s.length {
		return r.fail(errClockOverflow)
	}
	r.clock += s.length
	r.cur = s
	return true
}

// readDeleteSet reads the delete set that follows the structs, which must
// all have been read.
func (r *lazyReader) readDeleteSet(size int) (deleteSet, error) {
	if r.err != nil {
		return nil, r.err
	}
	ds, err := readDeleteSet(r.dec, updateLimit(size))
	if err != nil {
		return nil, malformed(err)
	}
	return ds, nil
}

// slice returns the part of the struct from diff on (yjs's sliceStruct).
// The content is split in place, so the receiver keeps [0, diff) only; the
// merge never uses the left part again.
func (r *structRef) slice(diff uint64) structRef {
	s := structRef{id: ID{r.id.Client, r.id.Clock + diff}, length: r.length - diff, kind: r.kind}
	if r.kind == refGC || r.kind == refSkip {
		return s
	}
	// The right part hangs off the left part: its origin is the last ID
	// of the left part, so the parent need not be written.
	s.flags = flagOrigin | r.flags&(flagRightOrigin|flagParentSub)
	s.origin = ID{r.id.Client, r.id.Clock + diff - 1}
	s.rightOrigin = r.rightOrigin
	s.parentKind = r.parentKind
	s.parentID = r.parentID
	s.parentName = r.parentName
	s.parentSub = r.parentSub
	s.content = r.content.splice(diff, r.length)
	return s
}

// mergeWith appends right to r when yjs's lazy merge would: GC to GC and
// Skip to Skip. Items never merge there, because Item.mergeWith requires
// left.right == right and a lazily read item has no neighbours.
func (r *structRef) mergeWith(right *structRef) bool {
	if (r.kind == refGC || r.kind == refSkip) && r.kind == right.kind {
		r.length += right.length
		return true
	}
	return false
}

// lazyWriter writes structs client block by client block without knowing
// the block sizes in advance (yjs's LazyStructWriter). Each block is a
// fragment of the rest stream; finish puts the counts in front of them.
type lazyWriter struct {
	enc        updateEncoder
	currClient uint64
	written    uint64
	start      int
	frags      []lazyFragment
}

type lazyFragment struct {
	written    uint64
	start, end int
}

func newLazyWriter(enc updateEncoder) *lazyWriter { return &lazyWriter{enc: enc} }

func (w *lazyWriter) write(s *structRef, offset uint64) {
	if w.written > 0 && w.currClient != s.id.Client {
		w.flush()
	}
	if w.written == 0 {
		w.currClient = s.id.Client
		w.enc.writeClient(s.id.Client)
		w.enc.rest().WriteVarUint(s.id.Clock + offset)
	}
	s.write(w.enc, offset)
	w.written++
}

func (w *lazyWriter) flush() {
	if w.written > 0 {
		end := w.enc.rest().Len()
		w.frags = append(w.frags, lazyFragment{w.written, w.start, end})
		w.start = end
		w.written = 0
	}
}

// finish rewrites the rest stream as the struct section of an update. The
// delete set is written after it.
func (w *lazyWriter) finish() {
	w.flush()
	rest := w.enc.rest()
	body := append([]byte(nil), rest.Bytes()...)
	rest.Reset()
	rest.WriteVarUint(uint64(len(w.frags)))
	for _, f := range w.frags {
		rest.WriteVarUint(f.written)
		rest.WriteBytes(body[f.start:f.end])
	}
}

// writeDeleteSetFor writes ds, first checking what v2 cannot express. yjs
// throws on an empty range and writes a wrapped negative varUint for ranges
// out of order (a client listed twice); the v2 encoder would quietly bend
// both into other ranges. An error is the honest answer to either.
func writeDeleteSetFor(enc updateEncoder, ds deleteSet, v2 bool) error {
	if v2 {
		for _, dels := range ds {
			var cur uint64
			for _, d := range dels {
				if d.clock < cur {
					return errV2NegativeDelta
				}
				if d.len == 0 {
					return errV2EmptyRange
				}
				cur = d.clock + d.len
			}
		}
	}
	writeDeleteSet(enc, ds)
	return nil
}

// MergeUpdates merges v1 updates into one v1 update, byte for byte as
// Y.mergeUpdates does. Structs present in several updates are written
// once, gaps become Skip structs, and the delete sets are united. A single
// update is returned as it is, unchecked, as yjs does.
func MergeUpdates(updates [][]byte) ([]byte, error) { return mergeUpdates(updates, false) }

// MergeUpdatesV2 is MergeUpdates for v2 updates (Y.mergeUpdatesV2).
func MergeUpdatesV2(updates [][]byte) ([]byte, error) { return mergeUpdates(updates, true) }

func mergeUpdates(updates [][]byte, v2 bool) ([]byte, error) {
	if len(updates) == 1 {
		return updates[0], nil
	}
	total := 0
	for _, u := range updates {
		total += len(u)
	}
	budget := newReadBudget(total)
	all := make([]*lazyReader, len(updates))
	for i, u := range updates {
		all[i] = newLazyReader(newDecoder(u, v2), budget, true)
		if all[i].err != nil {
			return nil, all[i].err
		}
	}
	enc := newEncoder(v2)
	w := newLazyWriter(enc)
	readers := append([]*lazyReader(nil), all...)
	sorter := v8Sorter[*lazyReader]{cmp: compareReaders}

	// currWrite is the struct waiting to be written: it may still grow
	// (GC after GC) or be followed by a Skip.
	var cw structRef
	haveCW := false
	for {
		live := readers[:0]
		for _, r := range readers {
			if r.err != nil {
				return nil, r.err
			}
			if r.curr() != nil {
				live = append(live, r)
			}
		}
		readers = live
		// Highest client first, then lowest clock. The order decides
		// which struct wins where updates overlap, and for a GC and an
		// item at the same ID the comparison is not even consistent, so
		// only V8's own sort algorithm gives yjs's answer.
		sorter.sort(readers)
		if len(readers) == 0 {
			break
		}
		cd := readers[0]
		firstClient := cd.curr().id.Client
		if haveCW {
			curr := cd.curr()
			cwEnd := cw.id.Clock + cw.length
			iterated := false
			// Skip what has been written already. The client test is
			// >=, as in yjs: with clients out of the usual descending
			// order, a higher client's early structs are dropped too.
			for curr != nil && curr.id.Clock+curr.length <= cwEnd && curr.id.Client >= cw.id.Client {
				curr = cd.next()
				iterated = true
			}
			if cd.err != nil {
				return nil, cd.err
			}
			if curr == nil || curr.id.Client != firstClient || (iterated && curr.id.Clock > cwEnd) {
				// Another reader may now come first.
				continue
			}
			if firstClient != cw.id.Client {
				w.write(&cw, 0)
				cw = *curr
				cd.next()
			} else if cwEnd < curr.id.Clock {
				if cw.kind == refSkip {
					// Unreachable with Skips filtered from the input,
					// kept because yjs has it: the Skip swallows curr.
					cw.length = curr.id.Clock + curr.length - cw.id.Clock
				} else {
					w.write(&cw, 0)
					cw = structRef{id: ID{firstClient, cwEnd}, length: curr.id.Clock - cwEnd, kind: refSkip}
				}
			} else {
				diff := cwEnd - curr.id.Clock
				next := *curr
				if diff > 0 {
					if cw.kind == refSkip {
						// Also unreachable (see above). A Skip is cut
						// rather than the struct, which carries more.
						if diff > cw.length {
							return nil, fmt.Errorf("%w: overlapping skip", ErrMalformed)
						}
						cw.length -= diff
					} else {
						next = curr.slice(diff)
					}
				}
				if !cw.mergeWith(&next) {
					w.write(&cw, 0)
					cw = next
					cd.next()
				}
			}
		} else {
			cw = *cd.curr()
			cd.next()
			haveCW = true
		}
		// Copy the rest of this reader's run of the client while it
		// continues exactly where cw ends.
		for next := cd.curr(); next != nil && next.id.Client == firstClient &&
			next.id.Clock == cw.id.Clock+cw.length && next.kind != refSkip; next = cd.next() {
			w.write(&cw, 0)
			cw = *next
		}
	}
	if haveCW {
		w.write(&cw, 0)
	}
	w.finish()

	merged := deleteSet{}
	for i, r := range all {
		ds, err := r.readDeleteSet(len(updates[i]))
		if err != nil {
			return nil, err
		}
		for client, dels := range ds {
			merged[client] = append(merged[client], dels...)
		}
	}
	merged.sortAndMerge()
	if err := writeDeleteSetFor(enc, merged, v2); err != nil {
		return nil, err
	}
	return encoded(enc)
}

// structClass distinguishes what yjs's merge comparator compares by
// constructor: GC, Skip or Item (any content).
func structClass(s *structRef) int {
	switch s.kind {
	case refGC:
		return 0
	case refSkip:
		return 1
	}
	return 2
}

// compareReaders is the comparator of yjs's mergeUpdatesV2, including its
// flaw: for a GC and an Item at the same ID it answers "first argument
// first" both ways round.
func compareReaders(a, b *lazyReader) int {
	x, y := &a.cur, &b.cur
	if x.id.Client != y.id.Client {
		if y.id.Client < x.id.Client {
			return -1
		}
		return 1
	}
	if x.id.Clock != y.id.Clock {
		if x.id.Clock < y.id.Clock {
			return -1
		}
		return 1
	}
	if structClass(x) == structClass(y) {
		return 0
	}
	if x.kind == refSkip {
		return 1
	}
	return -1
}

// DiffUpdate returns what the v1 update holds beyond the encoded v1 state
// vector sv (Y.diffUpdate). The delete set is kept whole.
func DiffUpdate(update, sv []byte) ([]byte, error) { return diffUpdate(update, sv, false) }

// DiffUpdateV2 is DiffUpdate for a v2 update; sv is still a v1 state
// vector, as in Y.diffUpdateV2.
func DiffUpdateV2(update, sv []byte) ([]byte, error) { return diffUpdate(update, sv, true) }

func diffUpdate(update, sv []byte, v2 bool) ([]byte, error) {
	state, err := DecodeStateVector(sv)
	if err != nil {
		return nil, err
	}
	enc := newEncoder(v2)
	w := newLazyWriter(enc)
	r := newLazyReader(newDecoder(update, v2), newReadBudget(len(update)), false)
	for r.curr() != nil {
		curr := r.curr()
		client := curr.id.Client
		svClock := state[client]
		if curr.kind == refSkip {
			// A leading Skip is dropped; Skips after a written struct of
			// the same client are kept below.
			r.next()
			continue
		}
		if curr.id.Clock+curr.length > svClock {
			var offset uint64
			if svClock > curr.id.Clock {
				offset = svClock - curr.id.Clock
			}
			w.write(curr, offset)
			for next := r.next(); next != nil && next.id.Client == client; next = r.next() {
				w.write(next, 0)
			}
		} else {
			for next := r.curr(); next != nil && next.id.Client == client && next.id.Clock+next.length <= svClock; next = r.next() {
			}
		}
	}
	return finishUpdate(r, w, enc, len(update), v2)
}

// ConvertUpdateV1ToV2 re-encodes a v1 update as v2
// (Y.convertUpdateFormatV1ToV2).
func ConvertUpdateV1ToV2(update []byte) ([]byte, error) { return convertUpdate(update, false, true) }

// ConvertUpdateV2ToV1 re-encodes a v2 update as v1
// (Y.convertUpdateFormatV2ToV1).
func ConvertUpdateV2ToV1(update []byte) ([]byte, error) { return convertUpdate(update, true, false) }

func convertUpdate(update []byte, fromV2, toV2 bool) ([]byte, error) {
	r := newLazyReader(newDecoder(update, fromV2), newReadBudget(len(update)), false)
	enc := newEncoder(toV2)
	w := newLazyWriter(enc)
	for s := r.curr(); s != nil; s = r.next() {
		w.write(s, 0)
	}
	return finishUpdate(r, w, enc, len(update), toV2)
}

// finishUpdate ends an update whose structs w has written: it copies the
// delete set that follows the structs r has read.
func finishUpdate(r *lazyReader, w *lazyWriter, enc updateEncoder, size int, v2 bool) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	w.finish()
	ds, err := r.readDeleteSet(size)
	if err != nil {
		return nil, err
	}
	if err := writeDeleteSetFor(enc, ds, v2); err != nil {
		return nil, err
	}
	return encoded(enc)
}

// EncodeStateVectorFromUpdate returns the encoded state vector of what a
// v1 update holds from clock 0 on without gaps
// (Y.encodeStateVectorFromUpdate). Clients are listed in update order.
func EncodeStateVectorFromUpdate(update []byte) ([]byte, error) {
	return encodeStateVectorFromUpdate(update, false)
}

// EncodeStateVectorFromUpdateV2 is EncodeStateVectorFromUpdate for a v2
// update. The state vector encoding is the same for both formats.
func EncodeStateVectorFromUpdateV2(update []byte) ([]byte, error) {
	return encodeStateVectorFromUpdate(update, true)
}

func encodeStateVectorFromUpdate(update []byte, v2 bool) ([]byte, error) {
	r := newLazyReader(newDecoder(update, v2), newReadBudget(len(update)), false)
	var body lib0.Encoder
	var size uint64
	if curr := r.curr(); curr != nil {
		client := curr.id.Client
		stop := curr.id.Clock != 0
		var clock uint64
		if !stop {
			clock = curr.id.Clock + curr.length
		}
		for ; curr != nil; curr = r.next() {
			if client != curr.id.Client {
				if clock != 0 {
					size++
					body.WriteVarUint(client)
					body.WriteVarUint(clock)
				}
				client = curr.id.Client
				clock = 0
				stop = curr.id.Clock != 0
			}
			// A Skip ends the known prefix, but yjs tests for it only
			// after the first struct has been counted: an update
			// starting with a Skip at clock 0 claims it.
			if curr.kind == refSkip {
				stop = true
			}
			if !stop {
				clock = curr.id.Clock + curr.length
			}
		}
		if clock != 0 {
			size++
			body.WriteVarUint(client)
			body.WriteVarUint(clock)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	var out lib0.Encoder
	out.WriteVarUint(size)
	out.WriteBytes(body.Bytes())
	return out.Bytes(), nil
}

// ParseUpdateMeta returns, per client, the first clock and the clock after
// the last struct of a v1 update (Y.parseUpdateMeta). Skips count.
func ParseUpdateMeta(update []byte) (from, to map[uint64]uint64, err error) {
	return parseUpdateMeta(update, false)
}

// ParseUpdateMetaV2 is ParseUpdateMeta for a v2 update.
func ParseUpdateMetaV2(update []byte) (from, to map[uint64]uint64, err error) {
	return parseUpdateMeta(update, true)
}

func parseUpdateMeta(update []byte, v2 bool) (from, to map[uint64]uint64, err error) {
	r := newLazyReader(newDecoder(update, v2), newReadBudget(len(update)), false)
	from, to = map[uint64]uint64{}, map[uint64]uint64{}
	if curr := r.curr(); curr != nil {
		client, clock := curr.id.Client, curr.id.Clock
		from[client] = clock
		for ; curr != nil; curr = r.next() {
			if client != curr.id.Client {
				to[client] = clock
				from[curr.id.Client] = curr.id.Clock
				client = curr.id.Client
			}
			clock = curr.id.Clock + curr.length
		}
		to[client] = clock
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	return from, to, nil
}

// v8Sorter is Array.prototype.sort as V8 implements it (the TimSort of
// third_party/v8/builtins/array-sort.tq, as shipped in Node 20: natural
// runs, binary insertion up to the minimum run length, galloping merges).
// yjs sorts its readers with an inconsistent comparator, so the result
// depends on which comparisons the algorithm makes; a textbook stable sort
// would pick a different winner where a GC and an item share an ID.
type v8Sorter[T any] struct {
	cmp       func(a, b T) int
	minGallop int
	runs      []v8Run
	tmp       []T
}

type v8Run struct{ base, n int }

const v8MinGallopWins = 7

func (s *v8Sorter[T]) sort(a []T) {
	n := len(a)
	if n < 2 {
		return
	}
	s.minGallop = v8MinGallopWins
	s.runs = s.runs[:0]
	minRun := v8MinRunLength(n)
	low, remaining := 0, n
	for remaining != 0 {
		run := s.countAndMakeRun(a, low, low+remaining)
		if run < minRun {
			forced := min(minRun, remaining)
			s.binaryInsertionSort(a, low, low+run, low+forced)
			run = forced
		}
		s.runs = append(s.runs, v8Run{low, run})
		s.mergeCollapse(a)
		low += run
		remaining -= run
	}
	s.mergeForceCollapse(a)
}

func v8MinRunLength(n int) int {
	r := 0
	for n >= 64 {
		r |= n & 1
		n >>= 1
	}
	return n + r
}

// binaryInsertionSort sorts a[low:high] given that a[low:start] is sorted.
func (s *v8Sorter[T]) binaryInsertionSort(a []T, low, start, high int) {
	if low == start {
		start++
	}
	for ; start < high; start++ {
		left, right := low, start
		pivot := a[start]
		for left < right {
			mid := left + (right-left)>>1
			if s.cmp(pivot, a[mid]) < 0 {
				right = mid
			} else {
				left = mid + 1
			}
		}
		copy(a[left+1:start+1], a[left:start])
		a[left] = pivot
	}
}

// countAndMakeRun returns the length of the run starting at low, reversing
// it first if it is strictly descending.
func (s *v8Sorter[T]) countAndMakeRun(a []T, low, high int) int {
	if low+1 == high {
		return 1
	}
	run := 2
	desc := s.cmp(a[low+1], a[low]) < 0
	prev := a[low+1]
	for i := low + 2; i < high; i++ {
		o := s.cmp(a[i], prev)
		if desc && o >= 0 || !desc && o < 0 {
			break
		}
		prev = a[i]
		run++
	}
	if desc {
		for i, j := low, low+run-1; i < j; i, j = i+1, j-1 {
			a[i], a[j] = a[j], a[i]
		}
	}
	return run
}

func (s *v8Sorter[T]) invariantHolds(n int) bool {
	if n < 2 {
		return true
	}
	return s.runs[n-2].n > s.runs[n-1].n+s.runs[n].n
}

func (s *v8Sorter[T]) mergeCollapse(a []T) {
	for len(s.runs) > 1 {
		n := len(s.runs) - 2
		if !s.invariantHolds(n+1) || !s.invariantHolds(n) {
			if s.runs[n-1].n < s.runs[n+1].n {
				n--
			}
			s.mergeAt(a, n)
		} else if s.runs[n].n <= s.runs[n+1].n {
			s.mergeAt(a, n)
		} else {
			break
		}
	}
}

func (s *v8Sorter[T]) mergeForceCollapse(a []T) {
	for len(s.runs) > 1 {
		n := len(s.runs) - 2
		if n > 0 && s.runs[n-1].n < s.runs[n+1].n {
			n--
		}
		s.mergeAt(a, n)
	}
}

func (s *v8Sorter[T]) mergeAt(a []T, i int) {
	baseA, nA := s.runs[i].base, s.runs[i].n
	baseB, nB := s.runs[i+1].base, s.runs[i+1].n
	s.runs[i].n = nA + nB
	if i == len(s.runs)-3 {
		s.runs[i+1] = s.runs[i+2]
	}
	s.runs = s.runs[:len(s.runs)-1]

	k := s.gallopRight(a, a[baseB], baseA, nA, 0)
	baseA += k
	nA -= k
	if nA == 0 {
		return
	}
	nB = s.gallopLeft(a, a[baseA+nA-1], baseB, nB, nB-1)
	if nB == 0 {
		return
	}
	if nA <= nB {
		s.mergeLow(a, baseA, nA, baseB, nB)
	} else {
		s.mergeHigh(a, baseA, nA, baseB, nB)
	}
}

// gallopLeft returns where key belongs in arr[base:base+n], left of any
// equal elements, searching outwards from hint.
func (s *v8Sorter[T]) gallopLeft(arr []T, key T, base, n, hint int) int {
	lastOfs, ofs := 0, 1
	if s.cmp(arr[base+hint], key) < 0 {
		maxOfs := n - hint
		for ofs < maxOfs {
			if s.cmp(arr[base+hint+ofs], key) >= 0 {
				break
			}
			lastOfs = ofs
			ofs = ofs<<1 + 1
		}
		ofs = min(ofs, maxOfs)
		lastOfs += hint
		ofs += hint
	} else {
		maxOfs := hint + 1
		for ofs < maxOfs {
			if s.cmp(arr[base+hint-ofs], key) < 0 {
				break
			}
			lastOfs = ofs
			ofs = ofs<<1 + 1
		}
		ofs = min(ofs, maxOfs)
		lastOfs, ofs = hint-ofs, hint-lastOfs
	}
	lastOfs++
	for lastOfs < ofs {
		m := lastOfs + (ofs-lastOfs)>>1
		if s.cmp(arr[base+m], key) < 0 {
			lastOfs = m + 1
		} else {
			ofs = m
		}
	}
	return ofs
}

// gallopRight is gallopLeft placing key right of any equal elements.
func (s *v8Sorter[T]) gallopRight(arr []T, key T, base, n, hint int) int {
	lastOfs, ofs := 0, 1
	if s.cmp(key, arr[base+hint]) < 0 {
		maxOfs := hint + 1
		for ofs < maxOfs {
			if s.cmp(key, arr[base+hint-ofs]) >= 0 {
				break
			}
			lastOfs = ofs
			ofs = ofs<<1 + 1
		}
		ofs = min(ofs, maxOfs)
		lastOfs, ofs = hint-ofs, hint-lastOfs
	} else {
		maxOfs := n - hint
		for ofs < maxOfs {
			if s.cmp(key, arr[base+hint+ofs]) < 0 {
				break
			}
			lastOfs = ofs
			ofs = ofs<<1 + 1
		}
		ofs = min(ofs, maxOfs)
		lastOfs += hint
		ofs += hint
	}
	lastOfs++
	for lastOfs < ofs {
		m := lastOfs + (ofs-lastOfs)>>1
		if s.cmp(key, arr[base+m]) < 0 {
			ofs = m
		} else {
			lastOfs = m + 1
		}
	}
	return ofs
}

// mergeLow merges the adjacent runs a[baseA:baseA+nA] and a[baseB:baseB+nB]
// front to back, with nA <= nB.
func (s *v8Sorter[T]) mergeLow(a []T, baseA, nA, baseB, nB int) {
	tmp := append(s.tmp[:0], a[baseA:baseA+nA]...)
	s.tmp = tmp
	dest, ct, cb := baseA, 0, baseB
	a[dest] = a[cb]
	dest++
	cb++
	copyB := func() {
		copy(a[dest:dest+nB], a[cb:cb+nB])
		a[dest+nB] = tmp[ct]
	}
	succeed := func() {
		if nA > 0 {
			copy(a[dest:dest+nA], tmp[ct:ct+nA])
		}
	}
	nB--
	if nB == 0 {
		succeed()
		return
	}
	if nA == 1 {
		copyB()
		return
	}
	minGallop := s.minGallop
	for {
		winsA, winsB := 0, 0
		for {
			if s.cmp(a[cb], tmp[ct]) < 0 {
				a[dest] = a[cb]
				dest++
				cb++
				winsB++
				nB--
				winsA = 0
				if nB == 0 {
					succeed()
					return
				}
				if winsB >= minGallop {
					break
				}
			} else {
				a[dest] = tmp[ct]
				dest++
				ct++
				winsA++
				nA--
				winsB = 0
				if nA == 1 {
					copyB()
					return
				}
				if winsA >= minGallop {
					break
				}
			}
		}
		minGallop++
		for first := true; first || winsA >= v8MinGallopWins || winsB >= v8MinGallopWins; first = false {
			minGallop = max(1, minGallop-1)
			s.minGallop = minGallop
			winsA = s.gallopRight(tmp, a[cb], ct, nA, 0)
			if winsA > 0 {
				copy(a[dest:dest+winsA], tmp[ct:ct+winsA])
				dest += winsA
				ct += winsA
				nA -= winsA
				if nA == 1 {
					copyB()
					return
				}
				// Only an inconsistent comparator gets here.
				if nA == 0 {
					succeed()
					return
				}
			}
			a[dest] = a[cb]
			dest++
			cb++
			nB--
			if nB == 0 {
				succeed()
				return
			}
			winsB = s.gallopLeft(a, tmp[ct], cb, nB, 0)
			if winsB > 0 {
				copy(a[dest:dest+winsB], a[cb:cb+winsB])
				dest += winsB
				cb += winsB
				nB -= winsB
				if nB == 0 {
					succeed()
					return
				}
			}
			a[dest] = tmp[ct]
			dest++
			ct++
			nA--
			if nA == 1 {
				copyB()
				return
			}
		}
		minGallop++
		s.minGallop = minGallop
	}
}

// mergeHigh merges the adjacent runs back to front, with nA >= nB.
func (s *v8Sorter[T]) mergeHigh(a []T, baseA, nA, baseB, nB int) {
	tmp := append(s.tmp[:0], a[baseB:baseB+nB]...)
	s.tmp = tmp
	dest, ct, ca := baseB+nB-1, nB-1, baseA+nA-1
	a[dest] = a[ca]
	dest--
	ca--
	copyA := func() {
		dest -= nA
		ca -= nA
		copy(a[dest+1:dest+1+nA], a[ca+1:ca+1+nA])
		a[dest] = tmp[ct]
	}
	succeed := func() {
		if nB > 0 {
			copy(a[dest-(nB-1):dest+1], tmp[:nB])
		}
	}
	nA--
	if nA == 0 {
		succeed()
		return
	}
	if nB == 1 {
		copyA()
		return
	}
	minGallop := s.minGallop
	for {
		winsA, winsB := 0, 0
		for {
			if s.cmp(tmp[ct], a[ca]) < 0 {
				a[dest] = a[ca]
				dest--
				ca--
				winsA++
				nA--
				winsB = 0
				if nA == 0 {
					succeed()
					return
				}
				if winsA >= minGallop {
					break
				}
			} else {
				a[dest] = tmp[ct]
				dest--
				ct--
				winsB++
				nB--
				winsA = 0
				if nB == 1 {
					copyA()
					return
				}
				if winsB >= minGallop {
					break
				}
			}
		}
		minGallop++
		for first := true; first || winsA >= v8MinGallopWins || winsB >= v8MinGallopWins; first = false {
			minGallop = max(1, minGallop-1)
			s.minGallop = minGallop
			k := s.gallopRight(a, tmp[ct], baseA, nA, nA-1)
			winsA = nA - k
			if winsA > 0 {
				dest -= winsA
				ca -= winsA
				copy(a[dest+1:dest+1+winsA], a[ca+1:ca+1+winsA])
				nA -= winsA
				if nA == 0 {
					succeed()
					return
				}
			}
			a[dest] = tmp[ct]
			dest--
			ct--
			nB--
			if nB == 1 {
				copyA()
				return
			}
			k = s.gallopLeft(tmp, a[ca], 0, nB, nB-1)
			winsB = nB - k
			if winsB > 0 {
				dest -= winsB
				ct -= winsB
				copy(a[dest+1:dest+1+winsB], tmp[ct+1:ct+1+winsB])
				nB -= winsB
				if nB == 1 {
					copyA()
					return
				}
				// Only an inconsistent comparator gets here.
				if nB == 0 {
					succeed()
					return
				}
			}
			a[dest] = a[ca]
			dest--
			ca--
			nA--
			if nA == 0 {
				succeed()
				return
			}
		}
		minGallop++
		s.minGallop = minGallop
	}
}
