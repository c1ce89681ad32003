package sync

import (
	"slices"
	gosync "sync"
	"time"
)

// DefaultAwarenessTimeout is y-protocols' outdatedTimeout: a client that
// has not renewed its state for this long is considered gone. Clients
// renew every half of it (15 s).
const DefaultAwarenessTimeout = 30 * time.Second

// awarenessRecord is what the server knows of one awareness client.
type awarenessRecord struct {
	clock uint64
	// state is the JSON text of the live state; nil once the client was
	// removed. A removed record is kept for a while (a tombstone) so that
	// a late copy of an older state cannot bring the client back.
	state   []byte
	updated time.Time
	// owner is the peer whose connection the state last arrived on; its
	// states are removed when it leaves. A client that comes back through
	// a new connection with a newer clock moves to it.
	owner *Peer
}

// awareness is the awareness table of one session (y-protocols
// awareness.js, seen from a relay that has no state of its own). It is
// owned by the session goroutine and not safe for concurrent use.
type awareness struct {
	records    map[uint64]*awarenessRecord
	timeout    time.Duration
	maxClients int
	// clocks mirrors every record's clock for the peers' readers.
	clocks awarenessClocks
}

func newAwareness(timeout time.Duration, maxClients int) *awareness {
	if timeout <= 0 {
		timeout = DefaultAwarenessTimeout
	}
	return &awareness{records: map[uint64]*awarenessRecord{}, timeout: timeout, maxClients: maxClients,
		clocks: awarenessClocks{m: map[uint64]uint64{}}}
}

// awarenessClocks lets a peer's reader drop, before they reach the
// session, the awareness messages the table would ignore. A y-websocket
// provider sends back every awareness change it receives, so in a room of
// N peers each change comes back N-1 times; filtering those echoes on the
// readers keeps the session's work linear in the room size. The session
// writes it (under awareness's methods); readers only read.
type awarenessClocks struct {
	mu gosync.RWMutex
	m  map[uint64]uint64
}

// stale reports whether every entry is one the table would ignore
// whatever its state: a clock older than the known one, or the same clock
// with a live state. (The same clock with null may remove a state; that
// is left to the session.)
func (c *awarenessClocks) stale(entries []AwarenessEntry) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range entries {
		known, ok := c.m[e.ClientID]
		if !ok || e.Clock > known || (e.Clock == known && e.IsNull()) {
			return false
		}
	}
	return len(entries) > 0
}

// apply applies an awareness update that arrived from peer from, with
// y-protocols' rule: an entry is taken if its clock is newer than the
// known one (an unknown client counts as clock 0), or if it has the same
// clock and removes a present state. Entries with the same clock and a
// live state are dropped even from another peer: y-websocket clients echo
// every awareness change they receive back to the server, and taking
// those echoes would move a state to a peer that does not own it.
//
// It returns the entries to broadcast: every entry taken, except the
// removal of a client that was never known (y-protocols announces neither).
// clientsIgnored counts new clients refused because the table is full.
func (a *awareness) apply(from *Peer, entries []AwarenessEntry, now time.Time) (changed []AwarenessEntry, clientsIgnored int) {
	touched := false
	for _, e := range entries {
		rec, known := a.records[e.ClientID]
		null := e.IsNull()
		var accept bool
		switch {
		case !known:
			accept = e.Clock > 0
		case rec.clock < e.Clock:
			accept = true
		case rec.clock == e.Clock && null:
			accept = rec.state != nil
		}
		if !accept {
			continue
		}
		touched = true
		if null {
			if !known {
				a.records[e.ClientID] = &awarenessRecord{clock: e.Clock, updated: now, owner: from}
				continue
			}
			rec.clock, rec.state, rec.updated, rec.owner = e.Clock, nil, now, from
			changed = append(changed, AwarenessEntry{ClientID: e.ClientID, Clock: e.Clock, State: nullJSON})
			continue
		}
		if !known {
			if a.maxClients > 0 && a.live() >= a.maxClients {
				clientsIgnored++
				continue
			}
			rec = &awarenessRecord{}
			a.records[e.ClientID] = rec
		}
		rec.clock, rec.updated, rec.owner = e.Clock, now, from
		rec.state = append(rec.state[:0:0], e.State...)
		changed = append(changed, AwarenessEntry{ClientID: e.ClientID, Clock: e.Clock, State: rec.state})
	}
	if touched {
		a.clocks.mu.Lock()
		for _, e := range entries {
			if rec, ok := a.records[e.ClientID]; ok {
				a.clocks.m[e.ClientID] = rec.clock
			}
		}
		a.clocks.mu.Unlock()
	}
	return changed, clientsIgnored
}

// live returns the number of records, tombstones included: both cost
// memory, so both count against maxClients.
func (a *awareness) live() int { return len(a.records) }

// removePeer removes the states owned by p (it disconnected) and returns
// their removals to broadcast: null at the same clock, as y-protocols'
// removeAwarenessStates announces a remote client, so that every receiver
// that knows the state drops it.
func (a *awareness) removePeer(p *Peer, now time.Time) []AwarenessEntry {
	var removed []AwarenessEntry
	for id, rec := range a.records {
		if rec.owner != p {
			continue
		}
		if rec.state != nil {
			rec.state, rec.updated = nil, now
			removed = append(removed, AwarenessEntry{ClientID: id, Clock: rec.clock, State: nullJSON})
		}
	}
	sortEntries(removed)
	return removed
}

// expire removes states not renewed within the timeout, as every
// y-protocols instance does on its 3 s check, and returns their removals.
// It also forgets tombstones older than the timeout, which y-protocols
// keeps forever: by then no copy of the old state is still in flight, and
// keeping them would let a long-running session grow without bound.
func (a *awareness) expire(now time.Time) []AwarenessEntry {
	var removed []AwarenessEntry
	for id, rec := range a.records {
		if now.Sub(rec.updated) < a.timeout {
			continue
		}
		if rec.state == nil {
			delete(a.records, id)
			a.clocks.mu.Lock()
			delete(a.clocks.m, id)
			a.clocks.mu.Unlock()
			continue
		}
		rec.state, rec.updated = nil, now
		removed = append(removed, AwarenessEntry{ClientID: id, Clock: rec.clock, State: nullJSON})
	}
	sortEntries(removed)
	return removed
}

// states returns every live state, ordered by client id.
func (a *awareness) states() []AwarenessEntry {
	var out []AwarenessEntry
	for id, rec := range a.records {
		if rec.state != nil {
			out = append(out, AwarenessEntry{ClientID: id, Clock: rec.clock, State: rec.state})
		}
	}
	sortEntries(out)
	return out
}

func sortEntries(es []AwarenessEntry) {
	slices.SortFunc(es, func(a, b AwarenessEntry) int {
		switch {
		case a.ClientID < b.ClientID:
			return -1
		case a.ClientID > b.ClientID:
			return 1
		}
		return 0
	})
}
