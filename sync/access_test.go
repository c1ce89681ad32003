package sync

import (
	"testing"
	"time"

	"github.com/quirehq/quire/storage"
)

// TestReadOnlyPeer: a read-only peer syncs and receives edits, its updates
// are answered with permission denied and reach neither the document nor
// the other peers, and its awareness is still shared.
func TestReadOnlyPeer(t *testing.T) {
	h := testHub(t, storage.NewMemory(), nil)
	w := dial(t, h, "doc", "writer")
	r := dialAccess(t, h, "doc", "reader", Access{ReadOnly: true})
	w.insert(0, "hello")
	if m := w.expect(MsgSync); m.Sync != SyncUpdate { // the echo
		t.Fatalf("writer got sync %s, want the echo", m.Sync)
	}
	r.waitText("hello")

	// Its empty step 2 is not refused (every client sends one).
	r.conn.send(t, EncodeSyncStep2([]byte{0, 0}))
	r.insert(0, "evil ")
	m := r.expect(MsgAuth)
	if m.Auth != AuthPermissionDenied || len(m.Payload) == 0 {
		t.Fatalf("reader got auth %d %q, want permission denied with a reason", m.Auth, m.Payload)
	}
	if got := serverText(t, h, "doc"); got != "hello" {
		t.Fatalf("server has %q after a refused update, want %q", got, "hello")
	}
	// Awareness from the reader still reaches the writer.
	r.conn.send(t, EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 7, Clock: 1, State: []byte(`{"user":"r"}`)}})))
	if m := w.expect(MsgAwareness); len(m.Payload) < 3 {
		t.Fatalf("writer got awareness % x", m.Payload)
	}
	r.expect(MsgAwareness) // its own, broadcast to all
	// The writer never saw the refused edit: its next edit is the only
	// other one the reader hears of.
	w.insert(5, "!")
	r.waitText("evil hello!") // its own refused edit stays local
	if got := serverText(t, h, "doc"); got != "hello!" {
		t.Fatalf("server has %q, want %q", got, "hello!")
	}
	w.conn.hangUp()
	r.conn.hangUp()
	w.wait()
	r.wait()
}

// TestAccessExpiry: a peer is closed with CloseAuthExpired when its
// credentials lapse, and one whose credentials already lapsed is not
// served at all.
func TestAccessExpiry(t *testing.T) {
	h := testHub(t, storage.NewMemory(), nil)
	a := dialAccess(t, h, "doc", "a", Access{Expires: time.Now().Add(150 * time.Millisecond)})
	other := dial(t, h, "doc", "other")
	if code, reason := a.conn.closeInfo(t); code != CloseAuthExpired || reason == "" {
		t.Fatalf("closed with %d %q, want %d and a reason", code, reason, CloseAuthExpired)
	}
	a.wait()
	other.insert(0, "still here")
	other.waitText("still here")

	late := &client{t: t, conn: newPipe("late", 16), done: make(chan error, 1)}
	if err := h.Serve(t.Context(), "doc", late.conn, Access{Expires: time.Now().Add(-time.Second)}); err != ErrExpired {
		t.Fatalf("Serve with lapsed credentials: %v, want ErrExpired", err)
	}
	if code, _ := late.conn.closeInfo(t); code != CloseAuthExpired {
		t.Fatalf("lapsed peer closed with %d, want %d", code, CloseAuthExpired)
	}
	other.conn.hangUp()
	other.wait()
}
