package crdt

// Transaction groups changes to a Doc. Everything a transaction changes is
// sent as one update; merging of adjacent structs and garbage collection
// happen when it ends, as in yjs, because both change what later encodings
// look like.
type Transaction struct {
	doc       *Doc
	deleteSet deleteSet
	// before holds the state of each client whose state changed, taken just
	// before its first change. Clients not in it did not change.
	before    clockMap
	changed   branchSet
	changedCl clockMap // scratch for changedClients
	pos       textPos  // scratch position for text edits
	// dsOrder lists the clients of deleteSet in the order they were first
	// added: yjs walks a transaction's deletions in that order when it
	// cleans up formatting, and the order decides which formats go.
	dsOrder      []uint64
	mergeStructs []*item
	local        bool

	needFormattingCleanup bool
}

// newTransaction returns a transaction, reusing the last finished one:
// most edits are single keystrokes, and allocating maps for each dominated
// their cost.
func newTransaction(d *Doc, local bool) *Transaction {
	tx := d.spareTx
	if tx == nil {
		tx = &Transaction{doc: d, deleteSet: deleteSet{}}
	}
	d.spareTx = nil
	tx.local = local
	return tx
}

// release makes tx available for reuse.
func (d *Doc) release(tx *Transaction) {
	clear(tx.deleteSet)
	tx.dsOrder = tx.dsOrder[:0]
	tx.before.reset()
	tx.changed.reset()
	tx.changedCl.reset()
	clear(tx.mergeStructs)
	tx.mergeStructs = tx.mergeStructs[:0]
	tx.needFormattingCleanup = false
	d.spareTx = tx
}

func (tx *Transaction) addDelete(client, clock, n uint64) {
	if _, ok := tx.deleteSet[client]; !ok {
		tx.dsOrder = append(tx.dsOrder, client)
	}
	tx.deleteSet.add(client, clock, n)
}

// beforeState is the state of client when the transaction started.
func (tx *Transaction) beforeState(client uint64) uint64 {
	if c, ok := tx.before.get(client); ok {
		return c
	}
	return tx.doc.store.state(client)
}

// addStruct appends a struct to the store, remembering the client's state
// before the transaction first touched it.
func (tx *Transaction) addStruct(it *item) {
	if _, ok := tx.before.get(it.id.Client); !ok {
		tx.before.set(it.id.Client, tx.doc.store.state(it.id.Client))
	}
	tx.doc.store.add(it)
}

// changedClients lists the clients whose state the transaction advanced,
// with their state before it.
func (tx *Transaction) changedClients() *clockMap {
	out := &tx.changedCl
	out.reset()
	tx.before.each(func(client, clock uint64) {
		if tx.doc.store.state(client) != clock {
			out.set(client, clock)
		}
	})
	return out
}

func (tx *Transaction) addChangedType(t *branch, hasSub bool, sub string) {
	it := t.item
	if it == nil || (it.id.Clock < tx.beforeState(it.id.Client) && !it.deleted()) {
		tx.changed.add(t)
	}
}

// transact runs fn inside the current transaction, or a new one that is
// cleaned up (merged, collected, announced) when fn returns.
func (d *Doc) transact(local bool, fn func(tx *Transaction)) {
	tx, top := d.begin(local)
	fn(tx)
	d.end(tx, top)
}

// begin returns the current transaction, or starts one (top is then true
// and the caller must call end).
func (d *Doc) begin(local bool) (tx *Transaction, top bool) {
	if d.tx != nil {
		return d.tx, false
	}
	tx = newTransaction(d, local)
	d.tx = tx
	d.cleanups = append(d.cleanups, tx)
	return tx, true
}

// end finishes a transaction begin started.
func (d *Doc) end(tx *Transaction, top bool) {
	if !top {
		return
	}
	d.tx = nil
	if d.cleanups[0] != tx {
		return // started during another's cleanup: cleaned up after it
	}
	// Cleanup may open transactions of its own (text formatting cleanup);
	// they are cleaned up after this one, in order.
	for i := 0; i < len(d.cleanups); i++ {
		d.cleanup(d.cleanups[i])
	}
	for _, t := range d.cleanups {
		d.release(t)
	}
	clear(d.cleanups)
	d.cleanups = d.cleanups[:0]
}

func (d *Doc) cleanup(tx *Transaction) {
	store := d.store
	ds := tx.deleteSet
	// Walk the delete set through dsOrder rather than ranging over the map:
	// every map range draws a random number, and this runs per keystroke.
	for _, client := range tx.dsOrder {
		ds.sortAndMergeClient(client)
	}
	changedClients := tx.changedClients()

	// What yjs does while calling observers: remote changes invalidate
	// search markers, and remote changes to formatted text ask for cleanup.
	if !tx.local {
		tx.changed.each(func(t *branch) {
			if t.item != nil && t.item.deleted() {
				return
			}
			t.markers.reset()
			if (t.kind == kindText || t.kind == kindXmlText) && t.hasFormatting {
				tx.needFormattingCleanup = true
			}
		})
	}
	if tx.needFormattingCleanup {
		d.cleanupTextAfterTransaction(tx, changedClients.toMap())
	}

	if len(ds) > 0 {
		if d.gc {
			tryGCDeleteSet(ds, tx.dsOrder, store)
		}
		tryMergeDeleteSet(ds, tx.dsOrder, store)
	}
	changedClients.each(func(client, beforeClock uint64) {
		l := store.clients[client]
		first := 1
		if beforeClock > 0 {
			first = max(l.find(beforeClock), 1)
		}
		for i := l.len() - 1; i >= first; {
			i -= 1 + store.tryMergeWithLefts(client, i)
		}
	})
	for i := len(tx.mergeStructs) - 1; i >= 0; i-- {
		id := tx.mergeStructs[i].id
		l := store.clients[id.Client]
		pos := l.find(id.Clock)
		if pos+1 < l.len() {
			if store.tryMergeWithLefts(id.Client, pos+1) > 1 {
				continue
			}
		}
		if pos > 0 {
			store.tryMergeWithLefts(id.Client, pos)
		}
	}
	if !tx.local {
		if _, ok := changedClients.get(d.clientID); ok {
			// Someone else writes with our client id: pick another, as yjs
			// does, or our next edit would collide with theirs.
			d.clientID = generateClientID()
		}
	}
	if d.onUpdate != nil || d.onUpdateV2 != nil {
		if len(ds) == 0 && changedClients.len() == 0 {
			return
		}
		sm := changedClients.toMap()
		if d.onUpdate != nil {
			enc := newUpdateEncoderV1()
			writeTransactionUpdate(enc, tx, sm)
			d.onUpdate(enc.toBytes())
		}
		if d.onUpdateV2 != nil {
			enc := newUpdateEncoderV2()
			writeTransactionUpdate(enc, tx, sm)
			d.onUpdateV2(enc.toBytes())
		}
	}
}

func writeTransactionUpdate(enc updateEncoder, tx *Transaction, changedClients map[uint64]uint64) {
	writeClientsStructsFrom(enc, tx.doc.store, changedClients)
	writeDeleteSet(enc, tx.deleteSet)
}

// tryMergeWithLefts merges structs[pos] into its left neighbours as far as
// possible and returns how many structs were merged away. It finds the run
// first and merges it from its left end: merging from the right would copy
// the text gathered so far into each left neighbour in turn, quadratic in
// the run (a merged update of 20,000 keystrokes took seconds to load).
func (s *structStore) tryMergeWithLefts(client uint64, pos int) int {
	l := s.clients[client]
	structs := l.items
	j := pos
	for j > 0 && structs[j-1].deleted() == structs[j].deleted() && structs[j-1].canMerge(structs[j]) {
		j--
	}
	if j == pos {
		return 0
	}
	left := structs[j]
	for _, right := range structs[j+1 : pos+1] {
		if !left.mergeWith(right) {
			panic("crdt: a struct canMerge accepted did not merge")
		}
		if right.has(flagParentSub) && right.parent.entries[*right.parentSub] == right {
			right.parent.entries[*right.parentSub] = left
		}
	}
	l.remove(j+1, pos+1)
	return pos - j
}

func tryGCDeleteSet(ds deleteSet, clients []uint64, store *structStore) {
	for _, client := range clients {
		dels := ds[client]
		l := store.clients[client]
		structs := l.items
		for di := len(dels) - 1; di >= 0; di-- {
			d := dels[di]
			end := d.clock + d.len
			for si := l.find(d.clock); si < len(structs) && structs[si].id.Clock < end; si++ {
				it := structs[si]
				if !it.isGC() && it.deleted() && !it.keep() {
					it.gc(store, false)
				}
			}
		}
	}
}

func tryMergeDeleteSet(ds deleteSet, clients []uint64, store *structStore) {
	for _, client := range clients {
		dels := ds[client]
		for di := len(dels) - 1; di >= 0; di-- {
			d := dels[di]
			l := store.clients[client]
			si := min(l.len()-1, 1+l.find(d.clock+d.len-1))
			for si > 0 && l.items[si].id.Clock >= d.clock {
				si -= 1 + store.tryMergeWithLefts(client, si)
			}
		}
	}
}
