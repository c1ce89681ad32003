package sync

import (
	gosync "sync"
	"time"
)

// writerIdle is how long a writer goroutine waits for another peer to
// write to before it exits.
const writerIdle = time.Second

// writers recycles the goroutines that drain peers' outboxes (Peer.writer).
//
// A peer has no goroutine of its own for writing while its outbox is empty,
// so that idle connections cost no stack. But a busy room pushes to every
// peer many times a second, and a goroutine started per push paid for its
// creation and, above all, for growing its stack down the write path, every
// time: a sixth of the server's CPU in a room of 250 editors. A goroutine
// that finished a peer's outbox therefore waits a little for the next peer
// that needs one, keeping its grown stack; an idle server keeps none.
// Each goroutine still serves one peer at a time, so a peer that blocks a
// write blocks nobody else.
type writers struct {
	work     chan *Peer // unbuffered: a send succeeds only if a writer waits
	stop     chan struct{}
	stopOnce gosync.Once
}

func newWriters() *writers {
	return &writers{work: make(chan *Peer), stop: make(chan struct{})}
}

// start runs p.writer on a waiting goroutine, or on a new one.
func (w *writers) start(p *Peer) {
	select {
	case w.work <- p:
	default:
		go w.run(p)
	}
}

func (w *writers) run(p *Peer) {
	var t *time.Timer
	for {
		p.writer()
		if t == nil {
			t = time.NewTimer(writerIdle)
		} else {
			t.Reset(writerIdle)
		}
		select {
		case p = <-w.work:
		case <-t.C:
			return
		case <-w.stop:
			t.Stop()
			return
		}
	}
}

// close lets the waiting goroutines go; writers started later exit after
// their peer.
func (w *writers) close() { w.stopOnce.Do(func() { close(w.stop) }) }
