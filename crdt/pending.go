package crdt

// DropPending forgets everything the document holds pending: structs
// waiting for dependencies and deletions of structs it does not have. The
// document's content is unchanged (pending data was never part of it);
// only the chance to integrate those structs later is given up, which a
// client that still holds them can restore by sending them again. A
// server calls it when PendingSize passes its limit, so that an update
// whose dependencies never arrive cannot grow the document, nor ride
// along in every snapshot and every new client's sync.
func (d *Doc) DropPending() {
	d.store.pendingStructs = nil
	d.store.pendingDs = nil
}
