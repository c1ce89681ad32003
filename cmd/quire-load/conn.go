package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quirehq/quire/crdt/lib0"
	ysync "github.com/quirehq/quire/sync"
)

// envelope is how y-protocols messages are framed on the socket.
type envelope int

const (
	// envYWS: y-websocket, one message per binary frame, the document
	// named by the URL path (quire, @y/websocket-server).
	envYWS envelope = iota
	// envHP: Hocuspocus, every message prefixed with the document name
	// (varString), an auth message first, extra message types.
	envHP
)

func (e envelope) String() string {
	if e == envHP {
		return "hocuspocus"
	}
	return "y-websocket"
}

// Hocuspocus message types beyond y-websocket's 0-3.
const (
	hpSyncReply  = 4
	hpStateless  = 5
	hpClose      = 7
	hpSyncStatus = 8
	hpPing       = 9
	hpPong       = 10

	hpAuthToken         = 0
	hpAuthDenied        = 1
	hpAuthAuthenticated = 2
)

// target is the server under test.
type target struct {
	url       string // ws://host:port/prefix: y-websocket appends "/<doc>", Hocuspocus uses it as is
	env       envelope
	hpVersion string // provider version sent in the Hocuspocus auth message
	srcIPs    []net.IP
	next      atomic.Uint64
	wtimeout  time.Duration
}

func (t *target) docURL(doc string) string {
	if t.env == envHP {
		return t.url
	}
	return strings.TrimRight(t.url, "/") + "/" + doc
}

// restURL is quire's REST text export of doc, derived from the ws URL
// (ws://host/ws -> http://host/api/v1/docs/doc/export?format=text).
func (t *target) restURL(doc string) string {
	u := strings.Replace(t.url, "ws://", "http://", 1)
	if i := strings.Index(u[len("http://"):], "/"); i >= 0 {
		u = u[:len("http://")+i]
	}
	return u + "/api/v1/docs/" + doc + "/export?format=text"
}

// corkConn lets the writer goroutine put several frames into one write:
// while corked, writes are buffered; uncork writes them at once (and sets
// the write deadline once, not once per frame as gorilla would).
type corkConn struct {
	net.Conn
	mu     stdsync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.corked {
		c.buf = append(c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// SetWriteDeadline is gorilla's per-frame call; uncork sets the deadline.
func (c *corkConn) SetWriteDeadline(time.Time) error { return nil }

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *corkConn) uncork(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	if timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(timeout))
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 64<<10 {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

func (t *target) dialer(cc **corkConn) *websocket.Dialer {
	d := &websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
	}
	nd := &net.Dialer{Timeout: 30 * time.Second}
	if len(t.srcIPs) > 0 {
		ip := t.srcIPs[t.next.Add(1)%uint64(len(t.srcIPs))]
		nd.LocalAddr = &net.TCPAddr{IP: ip}
	}
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		*cc = &corkConn{Conn: c}
		return *cc, nil
	}
	return d
}

// msg is one decoded y-protocols message (Hocuspocus types included).
type msg struct {
	typ     uint64
	sub     uint64 // sync sub-type, auth sub-type, sync status
	payload []byte // aliases the frame
}

// conn is one WebSocket connection to one document.
type conn struct {
	t      *target
	ws     *websocket.Conn
	doc    string
	prefix []byte // Hocuspocus: varString(doc)

	cork *corkConn
	out  chan []byte // frames for the writer goroutine
	quit chan struct{}
	werr atomic.Value // the writer's error
	rbuf bytes.Buffer

	framesIn, bytesIn, framesOut, bytesOut atomic.Int64
}

func dial(ctx context.Context, t *target, doc string) (*conn, error) {
	var cc *corkConn
	ws, _, err := t.dialer(&cc).DialContext(ctx, t.docURL(doc), nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(256 << 20)
	c := &conn{t: t, ws: ws, doc: doc, cork: cc, out: make(chan []byte, 1024), quit: make(chan struct{})}
	if t.env == envHP {
		var e lib0.Encoder
		e.WriteVarString(doc)
		c.prefix = e.Bytes()
	}
	go c.writer()
	return c, nil
}

var errConnClosed = errors.New("connection closed")

// send queues one message (already y-protocols encoded) to be written as
// one frame, with the envelope. Like a browser's WebSocket.send it does
// not wait for the write, so a reader answering a message never stalls;
// it blocks only when 1024 frames are already queued.
func (c *conn) send(m []byte) error {
	b := make([]byte, 0, len(c.prefix)+len(m))
	b = append(append(b, c.prefix...), m...)
	return c.queue(b)
}

func (c *conn) queue(b []byte) error {
	if e := c.werr.Load(); e != nil {
		return e.(error)
	}
	select {
	case c.out <- b:
		return nil
	case <-c.quit:
		return errConnClosed
	}
}

// writer writes the queued frames, as many as are waiting in one write.
func (c *conn) writer() {
	for {
		var b []byte
		select {
		case b = <-c.out:
		case <-c.quit:
			return
		}
		c.cork.cork()
		n := 0
		var err error
		for {
			c.framesOut.Add(1)
			c.bytesOut.Add(int64(len(b)))
			if err = c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
				break
			}
			n += len(b)
			if n > 256<<10 {
				break
			}
			select {
			case b = <-c.out:
				continue
			default:
			}
			break
		}
		if err == nil {
			err = c.cork.uncork(c.t.wtimeout)
		} else {
			_ = c.cork.uncork(c.t.wtimeout)
		}
		if err != nil {
			c.werr.Store(err)
			_ = c.ws.Close()
			return
		}
	}
}

// hello sends what a provider sends on open: Hocuspocus's auth token
// (empty), then sync step 1 with sv, then the awareness update aw (if any).
func (c *conn) hello(sv, aw []byte) error {
	if c.t.env == envHP {
		var e lib0.Encoder
		e.WriteVarUint(uint64(ysync.MsgAuth))
		e.WriteVarUint(hpAuthToken)
		e.WriteVarString("")
		e.WriteVarString(c.t.hpVersion)
		if err := c.send(e.Bytes()); err != nil {
			return err
		}
	}
	if err := c.send(ysync.EncodeSyncStep1(sv)); err != nil {
		return err
	}
	if aw != nil {
		return c.send(ysync.EncodeAwareness(aw))
	}
	return nil
}

// readFrame returns the next binary frame; the slice is valid until the
// next call.
func (c *conn) readFrame() ([]byte, error) {
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			return nil, err
		}
		c.rbuf.Reset()
		if _, err := c.rbuf.ReadFrom(r); err != nil {
			return nil, err
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		b := c.rbuf.Bytes()
		c.framesIn.Add(1)
		c.bytesIn.Add(int64(len(b)))
		// Keep big buffers (a 5 MB step 2) from living on in every conn.
		if c.rbuf.Cap() > 1<<20 {
			b = bytes.Clone(b)
			c.rbuf = bytes.Buffer{}
		}
		return b, nil
	}
}

var errAuthDenied = errors.New("hocuspocus: permission denied")

// parseFrame decodes the messages of one frame, calling f for each.
// Hocuspocus ping/pong frames and messages for other documents are skipped.
func (c *conn) parseFrame(frame []byte, f func(m msg) error) error {
	if c.t.env == envHP && len(frame) == 1 && (frame[0] == hpPing || frame[0] == hpPong) {
		if frame[0] == hpPing {
			return c.sendRaw([]byte{hpPong})
		}
		return nil
	}
	d := lib0.NewDecoder(frame)
	for d.Remaining() > 0 {
		if c.t.env == envHP {
			name := d.ReadVarStringBytes()
			if d.Err() == nil && string(name) != c.doc {
				return nil
			}
		}
		var m msg
		m.typ = d.ReadVarUint()
		switch m.typ {
		case uint64(ysync.MsgSync), hpSyncReply:
			m.typ = uint64(ysync.MsgSync)
			m.sub = d.ReadVarUint()
			m.payload = d.ReadVarBytes()
		case uint64(ysync.MsgAwareness):
			m.payload = d.ReadVarBytes()
		case uint64(ysync.MsgAuth):
			m.sub = d.ReadVarUint()
			if m.sub == hpAuthDenied || (c.t.env == envYWS && m.sub == 0) {
				m.payload = d.ReadVarStringBytes()
				if d.Err() == nil {
					return fmt.Errorf("%w: %s", errAuthDenied, m.payload)
				}
			} else if c.t.env == envHP && m.sub == hpAuthAuthenticated {
				m.payload = d.ReadVarStringBytes()
			}
		case uint64(ysync.MsgQueryAwareness):
		case hpSyncStatus:
			if c.t.env == envHP {
				m.sub = uint64(d.ReadVarInt())
				break
			}
			fallthrough
		default:
			// Unknown, stateless, close: nothing we act on; the rest of
			// the frame cannot be delimited.
			if d.Err() != nil {
				return fmt.Errorf("malformed frame: %w", d.Err())
			}
			if m.typ == hpClose && c.t.env == envHP {
				return fmt.Errorf("hocuspocus closed the document: %q", d.ReadBytes(d.Remaining()))
			}
			return nil
		}
		if d.Err() != nil {
			return fmt.Errorf("malformed frame: %w", d.Err())
		}
		if err := f(m); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) sendRaw(b []byte) error { return c.queue(append([]byte(nil), b...)) }

func (c *conn) close() {
	select {
	case <-c.quit:
		return
	default:
		close(c.quit)
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.ws.Close()
}
