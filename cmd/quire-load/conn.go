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

func (t *target) dialer() *websocket.Dialer {
	d := &websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
	}
	if len(t.srcIPs) > 0 {
		ip := t.srcIPs[t.next.Add(1)%uint64(len(t.srcIPs))]
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 30 * time.Second}
		d.NetDialContext = nd.DialContext
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

	wmu  stdsync.Mutex
	wbuf []byte
	rbuf bytes.Buffer

	framesIn, bytesIn, framesOut, bytesOut atomic.Int64
}

func dial(ctx context.Context, t *target, doc string) (*conn, error) {
	ws, _, err := t.dialer().DialContext(ctx, t.docURL(doc), nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(256 << 20)
	c := &conn{t: t, ws: ws, doc: doc}
	if t.env == envHP {
		var e lib0.Encoder
		e.WriteVarString(doc)
		c.prefix = e.Bytes()
	}
	return c, nil
}

// send writes one message (already y-protocols encoded) as one frame,
// adding the envelope.
func (c *conn) send(m []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(append(c.wbuf[:0], c.prefix...), m...)
	c.wbuf = b[:0]
	if c.t.wtimeout > 0 {
		_ = c.ws.SetWriteDeadline(time.Now().Add(c.t.wtimeout))
	}
	c.framesOut.Add(1)
	c.bytesOut.Add(int64(len(b)))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
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

func (c *conn) sendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (c *conn) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}
