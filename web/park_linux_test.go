package web

import (
	"testing"
	"time"

	"github.com/quirehq/quire/sync"
)

// TestIdlePeersHoldNoGoroutine: a synced WebSocket peer that says nothing
// costs no goroutine (its conn is parked in the poller), and still gets
// and sends updates when it speaks again.
func TestIdlePeersHoldNoGoroutine(t *testing.T) {
	e := newEnv(t, sync.WSOptions{})
	const n = 50
	clients := make([]*wsClient, n)
	for i := range clients {
		c := e.dial("/ws/idle")
		if m := c.next(); m.Sync != sync.SyncStep1 {
			t.Fatalf("first message %+v", m)
		}
		c.send(sync.EncodeSyncStep1(c.doc.EncodeStateVector()))
		if m := c.next(); m.Sync != sync.SyncStep2 {
			t.Fatalf("answer %+v", m)
		}
		clients[i] = c
	}
	// This test's own, and the server's session and sweeper, and writers
	// finishing. One goroutine per peer would be 50 more.
	var g int
	deadline := time.Now().Add(3 * time.Second)
	for {
		g = goroutines()
		if g < 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if g >= 20 {
		t.Fatalf("%d goroutines with %d idle peers: peers hold goroutines", g, n)
	}
	// A parked peer wakes for its next frame: an edit reaches everyone.
	_ = clients[7].doc.Text("t").Insert(0, "woke", nil)
	clients[7].send(sync.EncodeSyncUpdate(clients[7].ups[0]))
	for _, c := range []*wsClient{clients[0], clients[7], clients[n-1]} {
		c.syncUntil("woke")
	}
}
