package sync

import (
	"context"
	gosync "sync"
)

// inbox is a session's queue of events: bounded in length, and holding no
// buffer while the session is idle. A buffered channel of the same
// capacity keeps its whole buffer (7 KiB at 128 events) for every loaded
// document, busy or not, and most loaded documents are idle.
//
// Producers (peer readers, REST requests) put; the session goroutine
// waits on ready and takes. A producer that finds the inbox full waits
// until the session takes, so a busy session slows the connections that
// feed it, never the other way round.
type inbox struct {
	max   int
	ready chan struct{} // holds a token while events wait

	mu   gosync.Mutex
	q    []event
	room chan struct{} // closed when events are taken; nil if nobody waits
}

func newInbox(max int) inbox {
	return inbox{max: max, ready: make(chan struct{}, 1)}
}

// put appends ev, waiting while the inbox is full until there is room,
// unless done is closed (errSessionGone: the session no longer takes
// events) or ctx ends.
func (b *inbox) put(ctx context.Context, done <-chan struct{}, ev event) error {
	for {
		select {
		case <-done:
			return errSessionGone
		default:
		}
		b.mu.Lock()
		if len(b.q) < b.max {
			b.q = append(b.q, ev)
			if len(b.q) == 1 {
				b.signal()
			}
			b.mu.Unlock()
			return nil
		}
		if b.room == nil {
			b.room = make(chan struct{})
		}
		room := b.room
		b.mu.Unlock()
		select {
		case <-room:
		case <-done:
			return errSessionGone
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take appends up to n waiting events to dst, oldest first.
func (b *inbox) take(dst []event, n int) []event {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := min(n, len(b.q))
	if k == 0 {
		return dst
	}
	dst = append(dst, b.q[:k]...)
	rest := copy(b.q, b.q[k:])
	clear(b.q[rest:])
	b.q = b.q[:rest]
	if rest == 0 && cap(b.q) > inboxKeep {
		b.q = nil // a burst should not pin its memory
	}
	if rest > 0 {
		b.signal() // the session comes back for the rest
	}
	if b.room != nil {
		close(b.room)
		b.room = nil
	}
	return dst
}

// inboxKeep is the largest queue kept once empty.
const inboxKeep = 16

// len is the number of waiting events.
func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q)
}

// signal leaves the token on ready, if it is not there already. b.mu is
// held.
func (b *inbox) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}
