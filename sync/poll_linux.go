package sync

import (
	"errors"
	"fmt"
	gosync "sync"
	"syscall"
)

// The poller lets an idle connection wait for input without a goroutine
// of its own. Go's runtime parks a goroutine per blocked read, and with
// gorilla's read path beneath it that goroutine keeps a 4-8 KiB stack: at
// 10,000 idle connections, stacks were the largest part of the server's
// memory. A parked connection instead has an entry in one epoll set,
// watched by one goroutine, which starts a reader when input arrives.
//
// Registrations are one-shot: an event disarms the connection until its
// reader parks again, so at most one reader runs per connection. Each
// epoll_ctl runs inside syscall.RawConn.Control, which holds the
// descriptor open for the call, so a descriptor number that was closed
// and reused by another connection is never touched. Events carry a
// token, not the descriptor number, for the same reason. Closing a
// descriptor removes it from the epoll set; whoever closes a parked
// connection calls cancel to run its reader (which then finds the
// connection closed).
type poller struct {
	epfd int

	mu      gosync.Mutex
	waiting map[uint64]func() // parked connections' wake functions, by token
	next    uint64
}

var (
	pollOnce gosync.Once
	thePoll  *poller
	pollErr  error
)

// sharedPoller returns the process's poller, starting it on first use.
func sharedPoller() (*poller, error) {
	pollOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			pollErr = fmt.Errorf("sync: epoll_create1: %w", err)
			return
		}
		thePoll = &poller{epfd: fd, waiting: map[uint64]func(){}}
		go thePoll.loop()
	})
	return thePoll, pollErr
}

// pollHandle is one connection's registration.
type pollHandle struct {
	token uint64
	added bool // in the epoll set (armed or not)
}

// park arms h for rc and records wake, to be run on a new goroutine once
// rc is readable, hung up or in error. It fails when rc is closed; the
// caller then reads, and sees the error.
func (p *poller) park(rc syscall.RawConn, h *pollHandle, wake func()) error {
	// h is updated under p.mu, before arming: once armed, the next reader
	// may run (and park) before EpollCtl returns here, and p.mu is what
	// orders it after this one (loop takes it before starting a reader).
	p.mu.Lock()
	if h.token == 0 {
		p.next++
		h.token = p.next
	}
	p.waiting[h.token] = wake
	op := syscall.EPOLL_CTL_MOD
	if !h.added {
		op = syscall.EPOLL_CTL_ADD
		h.added = true
	}
	p.mu.Unlock()

	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	// EpollEvent's Fd and Pad fields are the kernel's 64-bit user data.
	ev.Fd, ev.Pad = int32(uint32(h.token)), int32(uint32(h.token>>32))
	var ctlErr error
	err := rc.Control(func(fd uintptr) {
		ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		// Not armed, so no other reader runs.
		p.mu.Lock()
		delete(p.waiting, h.token)
		if op == syscall.EPOLL_CTL_ADD {
			h.added = false
		}
		p.mu.Unlock()
		return err
	}
	return nil
}

// cancel runs h's wake now, on a new goroutine, if h is parked. Called
// after the connection is closed: its descriptor has left the epoll set,
// and no event will come.
func (p *poller) cancel(h *pollHandle) {
	p.mu.Lock()
	wake := p.waiting[h.token]
	delete(p.waiting, h.token)
	p.mu.Unlock()
	if wake != nil {
		go wake()
	}
}

func (p *poller) loop() {
	events := make([]syscall.EpollEvent, 256)
	wakes := make([]func(), 0, len(events))
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// Nothing else can fail on a valid epoll descriptor with a
			// valid buffer; if it does, parked connections would hang,
			// so fail loudly.
			panic(fmt.Sprintf("sync: epoll_wait: %v", err))
		}
		// The readers are started after the lock is let go: when
		// thousands of connections end at once, parking and closing
		// conns wait for it.
		wakes = wakes[:0]
		p.mu.Lock()
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if wake := p.waiting[token]; wake != nil {
				delete(p.waiting, token)
				wakes = append(wakes, wake)
			}
		}
		p.mu.Unlock()
		for i, wake := range wakes {
			go wake()
			wakes[i] = nil
		}
	}
}
