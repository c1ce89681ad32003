package crdt

import (
	"slices"
)

// structStore holds every struct of a document, per client, sorted by clock
// and contiguous: structs[i].id.Clock+structs[i].length ==
// structs[i+1].id.Clock. The state of a client is the clock after its last
// struct.
type structStore struct {
	clients map[uint64][]*item

	// pendingStructs holds structs whose dependencies have not arrived, as a
	// v2 update, and the lowest clock per client that would unblock it.
	pendingStructs *pendingUpdate
	// pendingDs holds deletions of structs we do not have yet, as a v2 update.
	pendingDs []byte
}

type pendingUpdate struct {
	missing map[uint64]uint64
	update  []byte // v2
}

func newStructStore() *structStore {
	return &structStore{clients: make(map[uint64][]*item)}
}

func (s *structStore) state(client uint64) uint64 {
	structs := s.clients[client]
	if len(structs) == 0 {
		return 0
	}
	last := structs[len(structs)-1]
	return last.id.Clock + last.length
}

// stateVector returns the next expected clock of every client.
func (s *structStore) stateVector() map[uint64]uint64 {
	sv := make(map[uint64]uint64, len(s.clients))
	for client, structs := range s.clients {
		last := structs[len(structs)-1]
		sv[client] = last.id.Clock + last.length
	}
	return sv
}

func (s *structStore) add(it *item) {
	structs := s.clients[it.id.Client]
	if n := len(structs); n > 0 {
		last := structs[n-1]
		if last.id.Clock+last.length != it.id.Clock {
			panic("crdt: struct store would have a gap")
		}
	}
	s.clients[it.id.Client] = append(structs, it)
}

// findIndex returns the index of the struct holding clock. The caller has
// checked clock < state.
func findIndex(structs []*item, clock uint64) int {
	lo, hi := 0, len(structs)-1
	mid := structs[hi]
	if mid.id.Clock <= clock {
		// The last struct: most lookups are of what was just typed.
		return hi
	}
	// Pivot on the assumption that clocks are spread evenly; as in yjs.
	idx := int(float64(clock) / float64(mid.id.Clock+mid.length-1) * float64(hi))
	if idx < 0 || idx > hi {
		idx = (lo + hi) / 2
	}
	for lo <= hi {
		mid = structs[idx]
		if mid.id.Clock <= clock {
			if clock < mid.id.Clock+mid.length {
				return idx
			}
			lo = idx + 1
		} else {
			hi = idx - 1
		}
		idx = (lo + hi) / 2
	}
	panic("crdt: clock not in struct store")
}

func (s *structStore) find(id ID) *item {
	structs := s.clients[id.Client]
	return structs[findIndex(structs, id.Clock)]
}

// findIndexCleanStart returns the index of the struct that starts at
// clock, splitting the one that holds it if needed.
func (s *structStore) findIndexCleanStart(tx *Transaction, client uint64, clock uint64) int {
	structs := s.clients[client]
	i := findIndex(structs, clock)
	it := structs[i]
	if it.id.Clock < clock && !it.isGC() {
		s.clients[client] = slices.Insert(structs, i+1, tx.splitItem(it, clock-it.id.Clock))
		return i + 1
	}
	return i
}

func (s *structStore) getItemCleanStart(tx *Transaction, id ID) *item {
	i := s.findIndexCleanStart(tx, id.Client, id.Clock)
	return s.clients[id.Client][i]
}

// getItemCleanEnd returns the struct that ends at id, splitting if needed.
func (s *structStore) getItemCleanEnd(tx *Transaction, id ID) *item {
	structs := s.clients[id.Client]
	i := findIndex(structs, id.Clock)
	it := structs[i]
	if id.Clock != it.id.Clock+it.length-1 && !it.isGC() {
		s.clients[id.Client] = slices.Insert(structs, i+1, tx.splitItem(it, id.Clock-it.id.Clock+1))
	}
	return it
}

// iterate calls f for every struct in [clock, clock+n) of client, splitting
// at both ends.
func (s *structStore) iterate(tx *Transaction, client uint64, clock, n uint64, f func(*item)) {
	if n == 0 {
		return
	}
	end := clock + n
	i := s.findIndexCleanStart(tx, client, clock)
	for {
		structs := s.clients[client]
		it := structs[i]
		i++
		if end < it.id.Clock+it.length {
			s.findIndexCleanStart(tx, client, end)
		}
		f(it)
		structs = s.clients[client]
		if i >= len(structs) || structs[i].id.Clock >= end {
			return
		}
	}
}
