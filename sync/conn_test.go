package sync

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestWriteFramesCoalesces: on a conn from Upgrade, a batch of frames
// reaches the network in one write, and the client reads every frame, in
// order.
func TestWriteFramesCoalesces(t *testing.T) {
	conns := make(chan *WSConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(websocket.Upgrader{}, w, r, WSOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
	}))
	defer srv.Close()
	cl, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := <-conns
	cc, ok := c.ws.NetConn().(*frameConn)
	if !ok {
		t.Fatalf("the upgraded connection is a %T, want *frameConn", c.ws.NetConn())
	}
	counter := &countingConn{Conn: cc.Conn}
	cc.Conn = counter

	var frames [][]byte
	for i := 0; i < 50; i++ {
		frames = append(frames, EncodeSyncUpdate([]byte(fmt.Sprintf("frame %d", i))))
	}
	if err := c.WriteFrames(frames); err != nil {
		t.Fatal(err)
	}
	if n := counter.writes.Load(); n != 1 {
		t.Errorf("%d writes for 50 frames, want 1", n)
	}
	for i, want := range frames {
		typ, got, err := cl.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.BinaryMessage || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: type %d % x, want % x", i, typ, got, want)
		}
	}
	// A large frame in a batch goes out from its own slice, in order.
	big := EncodeSyncStep2(bytes.Repeat([]byte{7}, 3*maxCopiedFrame))
	batch := [][]byte{frames[0], big, frames[1]}
	if err := c.WriteFrames(batch); err != nil {
		t.Fatal(err)
	}
	for i, want := range batch {
		if _, got, err := cl.ReadMessage(); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("batch with a large frame, frame %d: %d bytes, %v", i, len(got), err)
		}
	}
	// Every header length (7-, 16- and 64-bit), with gorilla's control
	// frames (pings) written from another goroutine meanwhile: frames
	// never interleave.
	sizes := []int{0, 125, 126, 1000, 65535, 65536, 70000}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			if c.Ping() != nil {
				return
			}
		}
	}()
	go func() {
		for i := range 40 {
			var batch [][]byte
			for _, n := range sizes {
				batch = append(batch, bytes.Repeat([]byte{byte(i)}, n))
			}
			if err := c.WriteFrames(batch); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 40 {
		for _, n := range sizes {
			_, got, err := cl.ReadMessage() // answers the pings too
			if err != nil || len(got) != n || (n > 0 && (got[0] != byte(i) || got[n-1] != byte(i))) {
				t.Fatalf("batch %d, frame of %d: %d bytes, %v", i, n, len(got), err)
			}
		}
	}
	<-done
	_ = c.Close(CloseNormal, "")
}
