package sync

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes the server sends. Codes in 4400-4499 make the y-websocket
// client (3.1 and later) give up reconnecting, so they are used only when
// reconnecting cannot help; everything transient uses a standard code
// that makes the client reconnect and resync with step 1 / step 2.
const (
	CloseNormal = 1000
	// CloseGoingAway: the server is shutting down or the document is
	// being unloaded; reconnect later.
	CloseGoingAway = 1001
	// CloseUnsupported: a text frame, or a message the server cannot take.
	CloseUnsupported = 1003
	// CloseInvalidPayload: a frame, update, state vector or awareness
	// update that does not decode or apply. The reason says which.
	CloseInvalidPayload = 1007
	// ClosePolicy: a limit was broken (rate, awareness size, pending
	// growth); the reason says which.
	ClosePolicy = 1008
	// CloseTooBig: a frame over the configured size limit.
	CloseTooBig = 1009
	// CloseInternal: the server failed (storage); reconnect and resync.
	CloseInternal = 1011
	// CloseTryAgainLater: the peer did not read fast enough and its outbox
	// overflowed. The client reconnects with backoff and resyncs, which
	// costs one step 2 instead of an unbounded queue on the server.
	CloseTryAgainLater = 1013
	// CloseDocumentDeleted: the document was deleted over the REST API.
	// In the permanent range on purpose: a client that reconnected would
	// upload its copy and bring the document back.
	CloseDocumentDeleted = 4410
	// CloseAuthExpired: the peer's token expired while it was connected.
	// Like 4410 it is in the range y-websocket clients do not retry with
	// the same URL: the application must reconnect with a fresh token.
	CloseAuthExpired = 4401
	// CloseDocTooLarge: the peer's update would grow the document past the
	// size limit. Permanent, so that the client does not send it again.
	CloseDocTooLarge = 4413
)

// Conn is a peer's transport. WSConn adapts a gorilla WebSocket; tests use
// in-memory pipes. Frames are y-websocket frames (one binary message
// each). The sync package calls ReadFrame from one goroutine and
// WriteFrames and Ping from another; Close may be called from any
// goroutine, more than once.
type Conn interface {
	// ReadFrame returns the next frame. The slice is the caller's: the
	// conn does not reuse it. A conn enforces its keepalive here: it
	// returns an error once nothing (no frame, no pong) has arrived for
	// its timeout.
	ReadFrame() ([]byte, error)
	// WriteFrames writes frames in order, failing if the peer does not
	// take them within the conn's write timeout. A conn should hand them
	// to the network in as few writes as it can: a peer's writer passes
	// everything queued since its last write, and under load one system
	// call per frame costs more than the rest of the broadcast.
	WriteFrames(frames [][]byte) error
	// Ping sends a keepalive probe, if the transport has one.
	Ping() error
	// Close sends a close frame with code and reason, best effort, and
	// releases the connection. ReadFrame and WriteFrame fail after it.
	Close(code int, reason string) error
	// RemoteAddr names the peer in logs.
	RemoteAddr() string
}

// CloseError is returned by ReadFrame when the peer closed the connection
// (or sent something the conn refuses), with the close code to log and,
// for a refusal, to send back.
type CloseError struct {
	Code   int
	Reason string
	// Remote is true when the peer sent the close.
	Remote bool
}

func (e *CloseError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	return fmt.Sprintf("%s close %d %q", who, e.Code, e.Reason)
}

// WSOptions configure a WSConn. Zero fields take the defaults.
type WSOptions struct {
	// MaxFrameBytes bounds one incoming frame. Default 32 MiB: a client
	// coming back after a long offline session sends its whole document
	// in one step 2.
	MaxFrameBytes int64
	// PongTimeout: a peer from which nothing (no frame, no pong) arrived
	// for this long is dead. Default 45 s, three ping intervals.
	PongTimeout time.Duration
	// WriteTimeout bounds one frame write. Default 10 s.
	WriteTimeout time.Duration
}

// Defaults for WSOptions.
const (
	DefaultMaxFrameBytes = 32 << 20
	DefaultPongTimeout   = 45 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
)

// WSConn is a Conn over a gorilla WebSocket.
type WSConn struct {
	ws   *websocket.Conn
	opts WSOptions

	closeOnce gosync.Once
	writeMu   gosync.Mutex // gorilla allows one concurrent writer

	deadlineSet time.Time // when ReadFrame last moved the read deadline

	// Parking (see Park). poll is nil for a conn that cannot park.
	poll   *poller
	ph     pollHandle
	rc     syscall.RawConn
	br     *bufio.Reader // the reader gorilla reads frames through
	active atomic.Int64  // unix nanoseconds of the last frame, pong or wake-up
	onWake func()        // Park's wake, and wakeUp as a func value
	woke   func()

	// readDone is closed when ReadFrame has returned its error: the peer
	// answered our close frame, or the connection is gone.
	readDone     chan struct{}
	readDoneOnce gosync.Once
}

// closeWait is how long Close waits for the peer to answer its close
// frame before closing the TCP connection.
const closeWait = time.Second

// NewWSConn wraps an upgraded WebSocket.
func NewWSConn(ws *websocket.Conn, opts WSOptions) *WSConn {
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if opts.PongTimeout <= 0 {
		opts.PongTimeout = DefaultPongTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	c := &WSConn{ws: ws, opts: opts, readDone: make(chan struct{})}
	now := time.Now()
	c.active.Store(now.UnixNano())
	ws.SetReadLimit(opts.MaxFrameBytes)
	_ = ws.SetReadDeadline(now.Add(opts.PongTimeout))
	ws.SetPongHandler(func(string) error {
		now := time.Now()
		c.active.Store(now.UnixNano())
		return ws.SetReadDeadline(now.Add(opts.PongTimeout))
	})
	if cc, ok := ws.NetConn().(*frameConn); ok && cc.br != nil {
		if sc, ok := cc.Conn.(syscall.Conn); ok {
			rc, err := sc.SyscallConn()
			poll, perr := sharedPoller()
			if err == nil && perr == nil {
				c.poll, c.rc, c.br = poll, rc, cc.br
			}
		}
	}
	return c
}

// Upgrade answers a WebSocket handshake and returns the connection as a
// WSConn that can park (see Park) and coalesces its writes (see
// WriteFrames). u's ReadBufferSize is ignored: the conn reads through a
// buffer of its own, which it must be able to see into to park.
func Upgrade(u websocket.Upgrader, w http.ResponseWriter, r *http.Request, opts WSOptions) (*WSConn, error) {
	u.ReadBufferSize = 0 // gorilla then reads through the hijacked reader, ours
	if h, ok := w.(http.Hijacker); ok {
		w = upgradeWriter{w, h}
	}
	ws, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	return NewWSConn(ws, opts), nil
}

// readBufferSize is a conn's read buffer: frames larger than this are
// read through it in pieces (or past it, into the frame). Most y-websocket
// frames are a few dozen bytes, awareness updates a few hundred, and
// every connection keeps its buffer. gorilla takes a hijacked reader only
// if it is larger than 256 bytes.
const readBufferSize = 512

// Park implements parker: while nothing is buffered, the conn gives up
// its reader and calls wake, on a new goroutine, when input arrives or
// the connection ends. It reports false when it cannot park (input is
// already buffered, or the platform has no poller); the caller then
// reads.
func (c *WSConn) Park(wake func()) bool {
	if c.poll == nil || c.br.Buffered() > 0 {
		return false
	}
	if c.woke == nil { // made once: a busy peer parks after every frame
		c.onWake, c.woke = wake, c.wakeUp
	}
	return c.poll.park(c.rc, &c.ph, c.woke) == nil
}

// wakeUp runs on the goroutine the poller starts for a parked conn.
func (c *WSConn) wakeUp() {
	// Nothing read the connection while it was parked, so its read
	// deadline has not been moving: restart it, as input (or the
	// connection's end) just arrived. At most once a second, as in
	// ReadFrame.
	now := time.Now()
	c.active.Store(now.UnixNano())
	if now.Sub(c.deadlineSet) > time.Second {
		c.deadlineSet = now
		_ = c.ws.SetReadDeadline(now.Add(c.opts.PongTimeout))
	}
	c.onWake()
}

// Expired implements parker: nothing (no frame, no pong) has arrived for
// the keepalive timeout. A parked conn has no read deadline running, so
// the hub's sweeper asks. An expired conn gives up on its peer: Close
// will not wait for an answer to its close frame.
func (c *WSConn) Expired(now time.Time) bool {
	if now.Sub(time.Unix(0, c.active.Load())) <= c.opts.PongTimeout {
		return false
	}
	c.readDoneOnce.Do(func() { close(c.readDone) })
	return true
}

// ReadFrame implements Conn.
func (c *WSConn) ReadFrame() ([]byte, error) {
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readDoneOnce.Do(func() { close(c.readDone) })
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce):
				return nil, &CloseError{Code: ce.Code, Reason: ce.Text, Remote: true}
			case errors.Is(err, websocket.ErrReadLimit):
				return nil, &CloseError{Code: CloseTooBig, Reason: fmt.Sprintf("frame over %d bytes", c.opts.MaxFrameBytes)}
			}
			return nil, err
		}
		// Moving the deadline costs a timer update; a busy peer sends
		// hundreds of frames a second, and a second's slack on a 45 s
		// timeout changes nothing.
		now := time.Now()
		c.active.Store(now.UnixNano())
		if now.Sub(c.deadlineSet) > time.Second {
			c.deadlineSet = now
			_ = c.ws.SetReadDeadline(now.Add(c.opts.PongTimeout))
		}
		switch typ {
		case websocket.BinaryMessage:
			return data, nil
		case websocket.TextMessage:
			c.readDoneOnce.Do(func() { close(c.readDone) })
			return nil, &CloseError{Code: CloseUnsupported, Reason: "text frames are not part of the protocol"}
		}
	}
}

// StopReading tells the conn that its reader will not call ReadFrame
// again (the peer is being closed for what it sent). The conn keeps
// reading, discarding, until the peer answers the close frame or
// closeWait passes, so that Close can still end with the closing
// handshake rather than a reset.
func (c *WSConn) StopReading() {
	select {
	case <-c.readDone:
		return
	default:
	}
	go func() {
		defer c.readDoneOnce.Do(func() { close(c.readDone) })
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * closeWait))
		for {
			if _, _, err := c.ws.NextReader(); err != nil {
				return
			}
		}
	}()
}

// WriteFrames implements Conn. On a connection from Upgrade the frames
// are framed here and leave in one write (see frameConn.writeMessages).
func (c *WSConn) WriteFrames(frames [][]byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if cc, ok := c.ws.NetConn().(*frameConn); ok {
		return cc.writeMessages(frames, c.opts.WriteTimeout)
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	for _, f := range frames {
		if err := c.ws.WriteMessage(websocket.BinaryMessage, f); err != nil {
			return err
		}
	}
	return nil
}

// upgradeWriter wraps the ResponseWriter a WebSocket upgrade is done
// through (Upgrade), so that the connection it hijacks is a frameConn
// with a read buffer of its own in place of net/http's: Upgrade tells
// gorilla to read through it, so that the conn can see whether input is
// buffered (WSConn.Park).
type upgradeWriter struct {
	http.ResponseWriter
	h http.Hijacker
}

func (w upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := w.h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	cc := &frameConn{Conn: c}
	if rw.Reader.Buffered() == 0 {
		// gorilla refuses a client that sent before the handshake
		// finished; with nothing buffered, nothing is lost by the swap.
		cc.br = bufio.NewReaderSize(cc, readBufferSize)
		rw = bufio.NewReadWriter(cc.br, rw.Writer)
	}
	return cc, rw, nil
}

// frameConn is a server connection that writes data frames itself, many
// in one system call (writeMessages), beside gorilla, which still writes
// the control frames (pings, pongs, close). gorilla frames each message
// with its own write, and a broadcast-heavy document sends hundreds of
// small frames per peer per second: the system calls and gorilla's
// per-frame work were most of a busy server's CPU. Both writers go
// through mu, and each writes whole frames under it, so frames never
// interleave. A frame from server to client is unmasked, so framing it is
// a header of 2 to 10 bytes before the payload.
type frameConn struct {
	net.Conn
	br       *bufio.Reader // see upgradeWriter; set before use
	mu       gosync.Mutex
	deadline time.Time // the write deadline the socket has now
}

// frameBufs holds write buffers between writes, so that an idle
// connection holds none.
var frameBufs = gosync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxCopiedFrame is the largest frame copied into a write buffer; a larger
// one (a document's step 2) is written from its own slice, which every
// peer it is sent to shares.
const maxCopiedFrame = 32 << 10

// frameBufKeep is the largest buffer returned to the pool: one burst
// should not pin its memory.
const frameBufKeep = 64 << 10

// Write is gorilla's: whole frames, under mu.
func (c *frameConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

// SetWriteDeadline is gorilla's, before each control frame.
func (c *frameConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetWriteDeadline(t)
}

// writeMessages writes frames as binary messages, failing if the peer
// does not take them within half of timeout to timeout: the socket's
// deadline is moved only when less than half of timeout is left, since
// moving it is a runtime timer update, which cost about a fifth of the
// server's CPU in a busy room when done for every write.
func (c *frameConn) writeMessages(frames [][]byte, timeout time.Duration) error {
	bp := frameBufs.Get().(*[]byte)
	b := (*bp)[:0]
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		if cap(b) <= frameBufKeep {
			*bp = b[:0]
			frameBufs.Put(bp)
		}
	}()
	if now := time.Now(); c.deadline.Sub(now) < timeout/2 {
		c.deadline = now.Add(timeout)
		if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
			return err
		}
	}
	for _, f := range frames {
		if len(f) <= maxCopiedFrame {
			b = appendFrameHeader(b, len(f))
			b = append(b, f...)
			continue
		}
		var hdr [maxFrameHeader]byte
		bufs := net.Buffers{b, appendFrameHeader(hdr[:0], len(f)), f}
		if _, err := bufs.WriteTo(c.Conn); err != nil {
			return err
		}
		b = b[:0]
	}
	if len(b) > 0 {
		if _, err := c.Conn.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// maxFrameHeader is the longest header of an unmasked frame.
const maxFrameHeader = 10

// appendFrameHeader appends the header of a final, unmasked binary frame
// of n payload bytes (RFC 6455, section 5.2).
func appendFrameHeader(dst []byte, n int) []byte {
	const finBinary = 0x80 | 0x2
	switch {
	case n <= 125:
		return append(dst, finBinary, byte(n))
	case n <= 0xffff:
		return append(dst, finBinary, 126, byte(n>>8), byte(n))
	default:
		return append(dst, finBinary, 127,
			byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// Ping implements Conn.
func (c *WSConn) Ping() error {
	return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout))
}

// Close implements Conn.
func (c *WSConn) Close(code int, reason string) error {
	var err error
	c.closeOnce.Do(func() {
		if len(reason) > 120 { // a close frame's payload is at most 125 bytes
			reason = strings.ToValidUTF8(reason[:120], "")
		}
		msg := websocket.FormatCloseMessage(code, reason)
		if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)) == nil {
			// The closing handshake: closing the socket while the peer's
			// frames are still arriving makes the kernel reset the
			// connection, and a reset can destroy our close frame before
			// the peer reads it (the client then sees 1006, not the
			// code). The reader sees the peer's answering close.
			t := time.NewTimer(closeWait)
			select {
			case <-c.readDone:
			case <-t.C:
			}
			t.Stop()
		}
		err = c.ws.Close()
		if c.poll != nil {
			// A closed descriptor leaves the epoll set without an event:
			// run a parked reader now, to find the connection closed.
			c.poll.cancel(&c.ph)
		}
	})
	return err
}

// RemoteAddr implements Conn.
func (c *WSConn) RemoteAddr() string { return c.ws.RemoteAddr().String() }
