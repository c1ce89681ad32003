// Package crdt is a Yjs-compatible CRDT replica: the Yjs 13.6 data model,
// update formats (v1 and v2), and YATA integration, in Go.
//
// The package is a pure state machine in the manner of etcd's raft: it does
// no I/O, starts no goroutines and takes no locks. The caller owns those, and
// has these duties:
//
//   - A Doc is not safe for concurrent use. Serialize every call on one Doc
//     (quire's sync package gives each document one goroutine).
//   - Updates go in through ApplyUpdate (v1) or ApplyUpdateV2. A malformed
//     update returns an error wrapping ErrMalformed; nothing of it is applied.
//     So does one the Doc could not encode again in both formats (a clock
//     at or above 2^52, a deletion ending above 2^53-1): whatever a Doc
//     accepts, EncodeStateAsUpdate can snapshot.
//   - Changes come out through the OnUpdate hook: after every transaction that
//     changed the document, local or remote, the hook receives the v1 update
//     that carries exactly that change. Persist and broadcast those bytes.
//   - Updates may arrive in any order and more than once. Structs whose
//     dependencies are missing wait inside the Doc (pending) and are applied
//     when the dependencies arrive; they are not in the state vector, but
//     they are in EncodeStateAsUpdate, so nothing a peer sent is lost.
//     PendingSize tells how much waits, for a caller that must bound it.
//   - A caller that only relays updates may keep a document as its encoding
//     and a Summary instead of a Doc: Summary.Absorb returns what an update
//     adds, or reports that only a Doc can tell (then apply it to one).
//
// Lengths and indexes of text are UTF-16 code units, as JavaScript counts
// them, so that positions agree with every Yjs client. Encodings are
// byte-identical to what yjs produces for the same document.
package crdt

import (
	"fmt"
	"math/rand/v2"

	"github.com/quirehq/quire/crdt/lib0"
)

// Options configure a Doc.
type Options struct {
	// ClientID identifies this replica's own edits; 0 picks a random one.
	ClientID uint64
	// NoGC keeps the content of deleted items (for history); by default it
	// is dropped when the transaction that deleted it ends, as yjs does.
	NoGC bool
}

// Doc is a document replica.
type Doc struct {
	clientID uint64
	gc       bool
	store    *structStore
	share    map[string]*branch
	order    []string // root names in creation order

	tx       *Transaction
	cleanups []*Transaction
	spareTx  *Transaction

	onUpdate   func(update []byte)
	onUpdateV2 func(update []byte)

	markerClock uint64
	scratch     [2]map[*item]struct{}
	slab        []item // preallocated items for the update being applied
	scratchDec  decodeScratch
	v1lib       lib0.Decoder
	v1dec       updateDecoderV1
}

// NewDoc returns an empty document.
func NewDoc(opts Options) *Doc {
	id := opts.ClientID
	if id == 0 {
		id = generateClientID()
	}
	return &Doc{
		clientID: id,
		gc:       !opts.NoGC,
		store:    newStructStore(),
		share:    map[string]*branch{},
	}
}

// generateClientID returns a random 32-bit client id, as yjs does.
func generateClientID() uint64 {
	return uint64(rand.Uint32()) | 1 // never 0: 0 means "pick one" in Options
}

// ClientID returns the id this replica writes its own edits with.
func (d *Doc) ClientID() uint64 { return d.clientID }

// GC reports whether deleted content is collected.
func (d *Doc) GC() bool { return d.gc }

// OnUpdate sets the function called with the v1 update of every transaction
// that changed the document. nil removes it.
func (d *Doc) OnUpdate(f func(update []byte)) { d.onUpdate = f }

// OnUpdateV2 is OnUpdate for the v2 format.
func (d *Doc) OnUpdateV2(f func(update []byte)) { d.onUpdateV2 = f }

// Transact runs f as one transaction: edits made inside it produce one
// update. Transactions nest; the outermost one ends the transaction.
func (d *Doc) Transact(f func()) {
	tx, top := d.begin(true)
	// Like yjs's finally: a panicking f still ends the transaction, so the
	// document stays usable and what f did before panicking is announced.
	defer d.end(tx, top)
	f()
}

// newItem allocates an item. While a large update is applied, items come
// from one slab sized for it: loading a document creates many items that
// live as long as it, and allocating them one by one dominated load time.
// Small edits allocate singly, so that items merged away can be freed.
func (d *Doc) newItem() *item {
	if len(d.slab) == 0 {
		return new(item)
	}
	it := &d.slab[0]
	d.slab = d.slab[1:]
	return it
}

func (d *Doc) scratchSet(i int) map[*item]struct{} {
	if d.scratch[i] == nil {
		d.scratch[i] = map[*item]struct{}{}
	}
	return d.scratch[i]
}

// root returns the root type called name, creating it if needed. A root
// created by an update is of unknown kind until someone asks for a kind.
func (d *Doc) root(name string, kind typeKind) *branch {
	b, ok := d.share[name]
	if !ok {
		b = newBranch(kind, "")
		b.rootName = name
		b.doc = d
		d.share[name] = b
		d.order = append(d.order, name)
		return b
	}
	if kind == kindUnknown || b.kind == kind {
		return b
	}
	if b.kind != kindUnknown {
		panic(fmt.Sprintf("crdt: root %q is a %s, not a %s", name, b.kind, kind))
	}
	// Yjs replaces the placeholder with a fresh typed instance: search
	// markers and the formatting flag start over.
	b.kind = kind
	b.markers.reset()
	b.hasFormatting = false
	b.markersOff = kind != kindArray && kind != kindText && kind != kindXmlText
	return b
}

// Roots returns the names of the root types, in the order they appeared.
func (d *Doc) Roots() []string { return append([]string(nil), d.order...) }

// updateLimit bounds the number of structs or deletions an update of n
// bytes may claim. v2 run-length columns let a few bytes describe many
// structs, so the bound is generous; it exists to stop a forged header from
// asking for billions.
func updateLimit(n int) int { return 64*n + 1024 }

// ApplyUpdate integrates a v1 update. The Doc keeps no reference to
// update: callers may reuse the buffer.
func (d *Doc) ApplyUpdate(update []byte) error {
	d.v1lib.Reset(update)
	d.v1dec = updateDecoderV1{dsDecoderV1{d: &d.v1lib}}
	defer d.v1lib.Reset(nil)
	return d.applyUpdate(&d.v1dec, len(update))
}

// ApplyUpdateV2 integrates a v2 update. The Doc keeps no reference to
// update.
func (d *Doc) ApplyUpdateV2(update []byte) error {
	return d.applyUpdate(newUpdateDecoderV2(update), len(update))
}

func (d *Doc) applyUpdate(dec updateDecoder, size int) (err error) {
	defer d.scratchDec.release()
	refs, err := readClientsStructRefsInto(dec, d, updateLimit(size), &d.scratchDec)
	if err != nil {
		return err
	}
	ds, order, err := readDeleteSetInto(dec, updateLimit(size), &d.scratchDec)
	if err != nil {
		return fmt.Errorf("%w: delete set: %w", ErrMalformed, err)
	}
	ownStrings(refs)
	n := 0
	for _, r := range refs {
		n += len(r.refs)
	}
	if n >= 64 {
		d.slab = make([]item, n)
	}
	d.transact(false, func(tx *Transaction) {
		err = tx.applyDecoded(refs, ds, order)
	})
	d.slab = nil
	return err
}

// applyDecoded is yjs's readUpdateV2 after decoding.
func (tx *Transaction) applyDecoded(refs map[uint64]*clientRefs, ds deleteSet, dsOrder []uint64) error {
	store := tx.doc.store
	restStructs := tx.integrateStructs(refs)
	retry := false
	if pending := store.pendingStructs; pending != nil {
		for client, clock := range pending.missing {
			if clock < store.state(client) {
				retry = true
				break
			}
		}
		if restStructs != nil {
			for client, clock := range restStructs.missing {
				if m, ok := pending.missing[client]; !ok || m > clock {
					pending.missing[client] = clock
				}
			}
			merged, err := MergeUpdatesV2([][]byte{pending.update, restStructs.update})
			if err != nil {
				return err
			}
			pending.update = merged
		}
	} else {
		store.pendingStructs = restStructs
	}

	var dsRest []byte
	if un := tx.applyDeleteSet(ds, dsOrder); len(un) > 0 {
		dsRest = encodeDeleteSetUpdate(un)
	}
	if store.pendingDs != nil {
		dec := newUpdateDecoderV2(store.pendingDs)
		dec.rest().ReadVarUint() // no structs in a pending delete set
		pds, porder, err := readDeleteSetOrdered(dec, updateLimit(len(store.pendingDs)))
		if err != nil {
			return err
		}
		var dsRest2 []byte
		if un := tx.applyDeleteSet(pds, porder); len(un) > 0 {
			dsRest2 = encodeDeleteSetUpdate(un)
		}
		switch {
		case dsRest != nil && dsRest2 != nil:
			merged, err := MergeUpdatesV2([][]byte{dsRest, dsRest2})
			if err != nil {
				return err
			}
			store.pendingDs = merged
		case dsRest != nil:
			store.pendingDs = dsRest
		default:
			store.pendingDs = dsRest2
		}
	} else {
		store.pendingDs = dsRest
	}
	if retry {
		update := store.pendingStructs.update
		store.pendingStructs = nil
		dec := newUpdateDecoderV2(update)
		refs, err := readClientsStructRefs(dec, tx.doc, updateLimit(len(update)))
		if err != nil {
			return err
		}
		ownStrings(refs)
		ds, order, err := readDeleteSetOrdered(dec, updateLimit(len(update)))
		if err != nil {
			return err
		}
		return tx.applyDecoded(refs, ds, order)
	}
	return nil
}

// PendingSize returns how many bytes the document holds for what it cannot
// apply yet: structs waiting for structs they depend on, and deletions of
// structs it does not have, each kept as one v2-encoded update. It is 0
// when nothing waits. It costs O(1), so a caller can check it after every
// update, and it grows with what an update whose dependencies never arrive
// adds: a server can cut off a peer once it passes a limit, since pending
// data also makes every later update with a gap re-merge all of it.
func (d *Doc) PendingSize() int {
	n := len(d.store.pendingDs)
	if p := d.store.pendingStructs; p != nil {
		n += len(p.update)
	}
	return n
}

// StateVector returns the next expected clock of every client.
func (d *Doc) StateVector() map[uint64]uint64 { return d.store.stateVector() }

// EncodeStateVector returns the state vector in the v1 encoding.
func (d *Doc) EncodeStateVector() []byte { return EncodeStateVector(d.store.stateVector()) }

// EncodeStateVector encodes a state vector, highest client first.
func EncodeStateVector(sv map[uint64]uint64) []byte {
	var e lib0.Encoder
	e.WriteVarUint(uint64(len(sv)))
	for _, client := range sortedClientsDesc(sv) {
		e.WriteVarUint(client)
		e.WriteVarUint(sv[client])
	}
	return e.Bytes()
}

// DecodeStateVector decodes a v1 state vector.
func DecodeStateVector(b []byte) (map[uint64]uint64, error) {
	dec := lib0.NewDecoder(b)
	n := dec.ReadVarUint()
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: state vector claims %d entries", ErrMalformed, n)
	}
	sv := make(map[uint64]uint64, n)
	for i := uint64(0); i < n && dec.Err() == nil; i++ {
		client := dec.ReadVarUint()
		sv[client] = dec.ReadVarUint()
	}
	if err := dec.Err(); err != nil {
		return nil, fmt.Errorf("%w: state vector: %w", ErrMalformed, err)
	}
	return sv, nil
}

// EncodeStateAsUpdate encodes what the document has beyond the encoded
// state vector sv (nil or empty: everything) as a v1 update, pending
// structs and deletions included.
func (d *Doc) EncodeStateAsUpdate(sv []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(sv, false)
}

// EncodeStateAsUpdateV2 is EncodeStateAsUpdate in the v2 format.
func (d *Doc) EncodeStateAsUpdateV2(sv []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(sv, true)
}

func (d *Doc) encodeStateAsUpdate(encodedSV []byte, v2 bool) ([]byte, error) {
	if len(encodedSV) == 0 {
		encodedSV = []byte{0}
	}
	sv, err := DecodeStateVector(encodedSV)
	if err != nil {
		return nil, err
	}
	var enc updateEncoder
	if v2 {
		enc = newUpdateEncoderV2()
	} else {
		enc = newUpdateEncoderV1()
	}
	writeClientsStructs(enc, d.store, sv)
	writeDeleteSet(enc, deleteSetFromStore(d.store))
	updates := [][]byte{enc.toBytes()}
	if d.store.pendingDs != nil {
		updates = append(updates, d.store.pendingDs)
	}
	if d.store.pendingStructs != nil {
		diff, err := DiffUpdateV2(d.store.pendingStructs.update, encodedSV)
		if err != nil {
			return nil, err
		}
		updates = append(updates, diff)
	}
	if len(updates) == 1 {
		return updates[0], nil
	}
	if v2 {
		return MergeUpdatesV2(updates)
	}
	for i := 1; i < len(updates); i++ {
		v1, err := ConvertUpdateV2ToV1(updates[i])
		if err != nil {
			return nil, err
		}
		updates[i] = v1
	}
	return MergeUpdates(updates)
}

func (k typeKind) String() string {
	switch k {
	case kindArray:
		return "Array"
	case kindMap:
		return "Map"
	case kindText:
		return "Text"
	case kindXmlElement:
		return "XmlElement"
	case kindXmlFragment:
		return "XmlFragment"
	case kindXmlHook:
		return "XmlHook"
	case kindXmlText:
		return "XmlText"
	}
	return "AbstractType"
}
