package sync

import (
	"context"
	"testing"
	"time"
)

// TestInbox: events come out in order, at most n per take; a full inbox
// makes put wait for a take, or fail when the session is gone or the
// context ends; and an emptied inbox lets its buffer go.
func TestInbox(t *testing.T) {
	b := newInbox(3)
	ctx := context.Background()
	for i := range 3 {
		if err := b.put(ctx, nil, event{kind: evKind(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-b.ready:
	default:
		t.Fatal("no ready token with events waiting")
	}
	put := make(chan error, 1)
	go func() { put <- b.put(ctx, nil, event{kind: 4}) }()
	select {
	case err := <-put:
		t.Fatalf("put into a full inbox returned %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	got := b.take(nil, 2)
	if len(got) != 2 || got[0].kind != 1 || got[1].kind != 2 {
		t.Fatalf("take 2: %+v", got)
	}
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.ready: // re-signalled: events remain
	default:
		t.Fatal("no ready token after a partial take")
	}
	got = b.take(got[:0], 10)
	if len(got) != 2 || got[0].kind != 3 || got[1].kind != 4 || b.len() != 0 {
		t.Fatalf("take rest: %+v, %d left", got, b.len())
	}

	// Full, then the session goes away, then a context ends.
	for range 3 {
		_ = b.put(ctx, nil, event{kind: evFrame})
	}
	done := make(chan struct{})
	close(done)
	if err := b.put(ctx, done, event{}); err != errSessionGone {
		t.Fatalf("put with the session gone: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.put(cctx, nil, event{}); err != context.Canceled {
		t.Fatalf("put with a cancelled context: %v", err)
	}

	big := newInbox(1000)
	for range 100 {
		_ = big.put(ctx, nil, event{})
	}
	big.take(nil, 1000)
	if big.q != nil {
		t.Fatalf("emptied inbox keeps a buffer of %d", cap(big.q))
	}
}
