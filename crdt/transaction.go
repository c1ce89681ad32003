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
	before       map[uint64]uint64
	changed      map[*branch]struct{}
	mergeStructs []*item
	local        bool

	needFormattingCleanup bool
}

func newTransaction(d *Doc, local bool) *Transaction {
	return &Transaction{
		doc:       d,
		deleteSet: deleteSet{},
		before:    map[uint64]uint64{},
		changed:   map[*branch]struct{}{},
		local:     local,
	}
}

// beforeState is the state of client when the transaction started.
func (tx *Transaction) beforeState(client uint64) uint64 {
	if c, ok := tx.before[client]; ok {
		return c
	}
	return tx.doc.store.state(client)
}

// addStruct appends a struct to the store, remembering the client's state
// before the transaction first touched it.
func (tx *Transaction) addStruct(it *item) {
	if _, ok := tx.before[it.id.Client]; !ok {
		tx.before[it.id.Client] = tx.doc.store.state(it.id.Client)
	}
	tx.doc.store.add(it)
}

// changedClients lists the clients whose state the transaction advanced.
func (tx *Transaction) changedClients() map[uint64]uint64 {
	out := make(map[uint64]uint64, len(tx.before))
	for client, clock := range tx.before {
		if tx.doc.store.state(client) != clock {
			out[client] = clock
		}
	}
	return out
}

func (tx *Transaction) addChangedType(t *branch, hasSub bool, sub string) {
	it := t.item
	if it == nil || (it.id.Clock < tx.beforeState(it.id.Client) && !it.deleted()) {
		tx.changed[t] = struct{}{}
	}
}

// transact runs fn inside the current transaction, or a new one that is
// cleaned up (merged, collected, announced) when fn returns.
func (d *Doc) transact(local bool, fn func(tx *Transaction)) {
	if d.tx != nil {
		fn(d.tx)
		return
	}
	tx := newTransaction(d, local)
	d.tx = tx
	d.cleanups = append(d.cleanups, tx)
	first := len(d.cleanups) == 1
	fn(tx)
	d.tx = nil
	if first {
		// Cleanup may open transactions of its own (text formatting
		// cleanup); they are cleaned up after this one, in order.
		for i := 0; i < len(d.cleanups); i++ {
			d.cleanup(d.cleanups[i])
		}
		d.cleanups = d.cleanups[:0]
	}
}

func (d *Doc) cleanup(tx *Transaction) {
	store := d.store
	ds := tx.deleteSet
	ds.sortAndMerge()
	changedClients := tx.changedClients()

	// What yjs does while calling observers: remote changes invalidate
	// search markers, and remote changes to formatted text ask for cleanup.
	for t := range tx.changed {
		if t.item != nil && t.item.deleted() {
			continue
		}
		if !tx.local {
			if t.markers != nil {
				t.markers = t.markers[:0]
			}
			if (t.kind == kindText || t.kind == kindXmlText) && t.hasFormatting {
				tx.needFormattingCleanup = true
			}
		}
	}
	if tx.needFormattingCleanup {
		d.cleanupTextAfterTransaction(tx, changedClients)
	}

	if d.gc {
		tryGCDeleteSet(ds, store)
	}
	tryMergeDeleteSet(ds, store)
	for client, beforeClock := range changedClients {
		structs := store.clients[client]
		first := 1
		if beforeClock > 0 {
			first = max(findIndex(structs, beforeClock), 1)
		}
		for i := len(structs) - 1; i >= first; {
			i -= 1 + store.tryMergeWithLefts(client, i)
			structs = store.clients[client]
		}
	}
	for i := len(tx.mergeStructs) - 1; i >= 0; i-- {
		id := tx.mergeStructs[i].id
		structs := store.clients[id.Client]
		pos := findIndex(structs, id.Clock)
		if pos+1 < len(structs) {
			if store.tryMergeWithLefts(id.Client, pos+1) > 1 {
				continue
			}
		}
		if pos > 0 {
			store.tryMergeWithLefts(id.Client, pos)
		}
	}
	if !tx.local {
		if _, ok := changedClients[d.clientID]; ok {
			// Someone else writes with our client id: pick another, as yjs
			// does, or our next edit would collide with theirs.
			d.clientID = generateClientID()
		}
	}
	if d.onUpdate != nil || d.onUpdateV2 != nil {
		if len(ds) == 0 && len(changedClients) == 0 {
			return
		}
		if d.onUpdate != nil {
			enc := newUpdateEncoderV1()
			writeTransactionUpdate(enc, tx, changedClients)
			d.onUpdate(enc.toBytes())
		}
		if d.onUpdateV2 != nil {
			enc := newUpdateEncoderV2()
			writeTransactionUpdate(enc, tx, changedClients)
			d.onUpdateV2(enc.toBytes())
		}
	}
}

func writeTransactionUpdate(enc updateEncoder, tx *Transaction, changedClients map[uint64]uint64) {
	writeClientsStructsFrom(enc, tx.doc.store, changedClients)
	writeDeleteSet(enc, tx.deleteSet)
}

// tryMergeWithLefts merges structs[pos] into its left neighbours as far as
// possible and returns how many structs were merged away.
func (s *structStore) tryMergeWithLefts(client uint64, pos int) int {
	structs := s.clients[client]
	right := structs[pos]
	i := pos
	for ; i > 0; i-- {
		left := structs[i-1]
		if left.deleted() == right.deleted() && left.isGC() == right.isGC() && left.mergeWith(right) {
			if right.has(flagParentSub) && right.parent.entries[right.parentSub] == right {
				right.parent.entries[right.parentSub] = left
			}
			right = left
			continue
		}
		break
	}
	merged := pos - i
	if merged > 0 {
		s.clients[client] = append(structs[:pos+1-merged], structs[pos+1:]...)
		clear(structs[len(structs)-merged:])
	}
	return merged
}

func tryGCDeleteSet(ds deleteSet, store *structStore) {
	for client, dels := range ds {
		structs := store.clients[client]
		for di := len(dels) - 1; di >= 0; di-- {
			d := dels[di]
			end := d.clock + d.len
			for si := findIndex(structs, d.clock); si < len(structs) && structs[si].id.Clock < end; si++ {
				it := structs[si]
				if !it.isGC() && it.deleted() && !it.keep() {
					it.gc(store, false)
				}
			}
		}
	}
}

func tryMergeDeleteSet(ds deleteSet, store *structStore) {
	for client, dels := range ds {
		for di := len(dels) - 1; di >= 0; di-- {
			d := dels[di]
			structs := store.clients[client]
			si := min(len(structs)-1, 1+findIndex(structs, d.clock+d.len-1))
			for si > 0 && store.clients[client][si].id.Clock >= d.clock {
				si -= 1 + store.tryMergeWithLefts(client, si)
			}
		}
	}
}
