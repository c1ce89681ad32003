package crdt

import (
	"slices"
)

// structStore holds every struct of a document, per client, sorted by clock
// and contiguous: items[i].id.Clock+items[i].length == items[i+1].id.Clock.
// The state of a client is the clock after its last struct.
type structStore struct {
	clients map[uint64]*structList

	// pendingStructs holds structs whose dependencies have not arrived, as a
	// v2 update, and the lowest clock per client that would unblock it.
	pendingStructs *pendingUpdate
	// pendingDs holds deletions of structs we do not have yet, as a v2 update.
	pendingDs []byte
}

// structList is the structs of one client, sorted by clock. Lookups by
// clock binary-search the items themselves: a separate array of clocks
// would make the probes cheaper but cost every struct of a loaded
// document 8 bytes more.
type structList struct {
	items []*item
}

func (l *structList) len() int { return len(l.items) }

func (l *structList) push(it *item) { l.items = append(l.items, it) }

func (l *structList) insert(i int, it *item) { l.items = slices.Insert(l.items, i, it) }

// remove deletes the structs [i, j).
func (l *structList) remove(i, j int) { l.items = slices.Delete(l.items, i, j) }

func (l *structList) grow(n int) { l.items = slices.Grow(l.items, n) }

// find returns the index of the struct holding clock. The caller has
// checked clock < state.
func (l *structList) find(clock uint64) int {
	items := l.items
	hi := len(items) - 1
	if items[hi].id.Clock <= clock {
		// The last struct: most lookups are of what was just typed.
		return hi
	}
	// The struct starting at or before clock: the last i with
	// items[i].id.Clock <= clock. The first struct starts at 0 or at the
	// first clock a client has.
	lo := 0
	for lo < hi {
		mid := int(uint(lo+hi+1) >> 1)
		if items[mid].id.Clock <= clock {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if it := items[lo]; clock < it.id.Clock || clock >= it.id.Clock+it.len() {
		panic("crdt: clock not in struct store")
	}
	return lo
}

type pendingUpdate struct {
	missing map[uint64]uint64
	update  []byte // v2
}

func newStructStore() *structStore {
	return &structStore{clients: make(map[uint64]*structList)}
}

func (s *structStore) list(client uint64) *structList {
	l := s.clients[client]
	if l == nil {
		l = &structList{}
		s.clients[client] = l
	}
	return l
}

func (s *structStore) state(client uint64) uint64 {
	l := s.clients[client]
	if l == nil || len(l.items) == 0 {
		return 0
	}
	last := l.items[len(l.items)-1]
	return last.id.Clock + last.len()
}

// stateVector returns the next expected clock of every client.
func (s *structStore) stateVector() map[uint64]uint64 {
	sv := make(map[uint64]uint64, len(s.clients))
	for client, l := range s.clients {
		if len(l.items) > 0 {
			last := l.items[len(l.items)-1]
			sv[client] = last.id.Clock + last.len()
		}
	}
	return sv
}

func (s *structStore) add(it *item) {
	l := s.list(it.id.Client)
	if n := len(l.items); n > 0 {
		last := l.items[n-1]
		if last.id.Clock+last.len() != it.id.Clock {
			panic("crdt: struct store would have a gap")
		}
	}
	l.push(it)
}

func (s *structStore) find(id ID) *item {
	l := s.clients[id.Client]
	return l.items[l.find(id.Clock)]
}

// findIndexCleanStart returns the index of the struct that starts at
// clock, splitting the one that holds it if needed.
func (s *structStore) findIndexCleanStart(tx *Transaction, client uint64, clock uint64) int {
	l := s.clients[client]
	i := l.find(clock)
	it := l.items[i]
	if it.id.Clock < clock && !it.isGC() {
		l.insert(i+1, tx.splitItem(it, clock-it.id.Clock))
		return i + 1
	}
	return i
}

func (s *structStore) getItemCleanStart(tx *Transaction, id ID) *item {
	i := s.findIndexCleanStart(tx, id.Client, id.Clock)
	return s.clients[id.Client].items[i]
}

// getItemCleanEnd returns the struct that ends at id, splitting if needed.
func (s *structStore) getItemCleanEnd(tx *Transaction, id ID) *item {
	l := s.clients[id.Client]
	i := l.find(id.Clock)
	it := l.items[i]
	if id.Clock != it.id.Clock+it.len()-1 && !it.isGC() {
		l.insert(i+1, tx.splitItem(it, id.Clock-it.id.Clock+1))
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
	l := s.clients[client]
	for {
		it := l.items[i]
		i++
		if end < it.id.Clock+it.len() {
			s.findIndexCleanStart(tx, client, end)
		}
		f(it)
		if i >= len(l.items) || l.items[i].id.Clock >= end {
			return
		}
	}
}
