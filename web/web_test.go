package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
	"github.com/quirehq/quire/storage"
	"github.com/quirehq/quire/sync"
)

func testLog(t *testing.T) *zerolog.Logger {
	l := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	return &l
}

// goroutines counts the goroutines, less the sync package's poller, which
// starts with the first WebSocket and lives as long as the process.
func goroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := bytes.Count(buf, []byte("\ngoroutine ")) + 1
	return n - bytes.Count(buf, []byte("sync.(*poller).loop("))
}

type env struct {
	t   *testing.T
	srv *httptest.Server
	hub *sync.Hub
}

func newEnv(t *testing.T, ws sync.WSOptions) *env {
	t.Helper()
	return newEnvCfg(t, func(c *Config) { c.WS = ws })
}

func (e *env) do(method, path, ctype string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// wsClient is a y-websocket peer over a real gorilla connection.
type wsClient struct {
	t   *testing.T
	c   *websocket.Conn
	doc *crdt.Doc
	ups [][]byte
}

func (e *env) dial(path string) *wsClient {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	w := &wsClient{t: e.t, c: c, doc: crdt.NewDoc(crdt.Options{})}
	w.doc.OnUpdate(func(u []byte) { w.ups = append(w.ups, u) })
	e.t.Cleanup(func() { c.Close() })
	return w
}

func (w *wsClient) send(frame []byte) {
	w.t.Helper()
	if err := w.c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) next() sync.Message {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, f, err := w.c.ReadMessage()
	if err != nil {
		w.t.Fatal(err)
	}
	msgs, err := sync.DecodeFrame(f)
	if err != nil || len(msgs) != 1 {
		w.t.Fatalf("bad frame % x: %v", f, err)
	}
	return msgs[0]
}

// syncUntil applies the server's sync messages until the text is want.
func (w *wsClient) syncUntil(want string) {
	w.t.Helper()
	for w.doc.Text("t").String() != want {
		m := w.next()
		if m.Type == sync.MsgSync && m.Sync != sync.SyncStep1 {
			if err := w.doc.ApplyUpdate(m.Payload); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// closeCode reads until the server closes and returns the close code.
func (w *wsClient) closeCode() int {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := w.c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
	}
}

func TestWebSocketAndExport(t *testing.T) {
	e := newEnv(t, sync.WSOptions{})
	a := e.dial("/ws/notes/today?token=x") // a name with a slash; params are not part of it
	if m := a.next(); m.Type != sync.MsgSync || m.Sync != sync.SyncStep1 {
		t.Fatalf("first message %+v", m)
	}
	a.send(sync.EncodeSyncStep1(a.doc.EncodeStateVector()))
	if m := a.next(); m.Sync != sync.SyncStep2 {
		t.Fatalf("answer %+v", m)
	}
	_ = a.doc.Text("t").Insert(0, "héllo wörld", nil)
	a.send(sync.EncodeSyncUpdate(a.ups[0]))
	if m := a.next(); m.Sync != sync.SyncUpdate {
		t.Fatalf("echo %+v", m)
	}
	status, hdr, body := e.do("GET", "/api/v1/docs/notes%2Ftoday/export?format=text&field=t", "", nil)
	if status != 200 || string(body) != "héllo wörld" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("text export: %d %q %s", status, body, hdr.Get("Content-Type"))
	}
	status, _, body = e.do("GET", "/api/v1/docs/notes%2Ftoday/export?format=json", "", nil)
	if status != 200 || string(body) != `{"t":"héllo wörld"}` {
		t.Fatalf("json export: %d %s", status, body)
	}
	// yjs: the full state, and a diff against a state vector.
	status, _, full := e.do("GET", "/api/v1/docs/notes%2Ftoday/export?format=yjs", "", nil)
	d := crdt.NewDoc(crdt.Options{})
	if status != 200 || d.ApplyUpdate(full) != nil || d.Text("t").String() != "héllo wörld" {
		t.Fatalf("yjs export: %d", status)
	}
	sv := base64.URLEncoding.EncodeToString(a.doc.EncodeStateVector())
	status, _, diff := e.do("GET", "/api/v1/docs/notes%2Ftoday/export?format=yjs&sv="+sv, "", nil)
	if status != 200 || !bytes.Equal(diff, []byte{0, 0}) {
		t.Fatalf("yjs diff: %d % x", status, diff)
	}
	// REST writes reach the connected client live.
	status, _, body = e.do("PUT", "/api/v1/docs/notes%2Ftoday?field=t", "text/plain; charset=utf-8", []byte("replaced"))
	if status != 200 {
		t.Fatalf("PUT text: %d %s", status, body)
	}
	a.syncUntil("replaced")
	other := crdt.NewDoc(crdt.Options{ClientID: 99})
	var ups [][]byte
	other.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = other.Map("m").Set("k", "v")
	_ = other.Map("m").Set("big", lib0.BigInt(1<<60)) // JSON.stringify would throw
	for _, u := range ups {
		if status, _, body = e.do("POST", "/api/v1/docs/notes%2Ftoday/updates", "application/octet-stream", u); status != 204 {
			t.Fatalf("POST update: %d %s", status, body)
		}
	}
	status, _, body = e.do("GET", "/api/v1/docs/notes%2Ftoday/export?format=json&field=m", "", nil)
	if status != 200 || string(body) != `{"k":"v","big":1152921504606846976}` {
		t.Fatalf("json field export: %d %s", status, body)
	}
	// Metadata and list.
	status, _, body = e.do("GET", "/api/v1/docs/notes%2Ftoday", "", nil)
	var info sync.DocInfo
	if status != 200 || json.Unmarshal(body, &info) != nil || info.Name != "notes/today" || info.Peers != 1 || info.Bytes == 0 {
		t.Fatalf("info: %d %s", status, body)
	}
	status, _, body = e.do("GET", "/api/v1/docs", "", nil)
	if status != 200 || !strings.Contains(string(body), `"name":"notes/today"`) {
		t.Fatalf("list: %d %s", status, body)
	}
	status, hdr, body = e.do("GET", "/", "", nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", status, hdr.Get("Content-Type"))
	}
	status, _, body = e.do("POST", "/api/v1/docs/notes%2Ftoday/compact", "", nil)
	if status != 200 || json.Unmarshal(body, &info) != nil || info.LogCount != 0 || info.SnapshotBytes == 0 {
		t.Fatalf("compact: %d %s", status, body)
	}
	status, _, body = e.do("GET", "/metrics", "", nil)
	if status != 200 || !strings.Contains(string(body), "quire_connections 1") || !strings.Contains(string(body), "quire_persist_seconds_count") {
		t.Fatalf("metrics: %d", status)
	}
	// Delete closes the peer with 4410.
	if status, _, body = e.do("DELETE", "/api/v1/docs/notes%2Ftoday", "", nil); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	if code := a.closeCode(); code != sync.CloseDocumentDeleted {
		t.Errorf("close code %d after delete", code)
	}
	if status, _, _ = e.do("GET", "/api/v1/docs/notes%2Ftoday", "", nil); status != 404 {
		t.Errorf("info after delete: %d", status)
	}
}

func TestMarkdownImportExport(t *testing.T) {
	e := newEnv(t, sync.WSOptions{})
	md := "# Title\n\nSome **bold** text.\n"
	status, _, body := e.do("PUT", "/api/v1/docs/md", "text/markdown", []byte(md))
	if status != 200 {
		t.Fatalf("PUT markdown: %d %s", status, body)
	}
	status, _, body = e.do("GET", "/api/v1/docs/md/export?format=markdown", "", nil)
	if status != 200 || string(body) != md {
		t.Errorf("markdown: %d %q", status, body)
	}
	status, _, body = e.do("GET", "/api/v1/docs/md/export?format=html", "", nil)
	if status != 200 || !strings.Contains(string(body), "<h1>Title</h1>") || !strings.Contains(string(body), "<strong>bold</strong>") {
		t.Errorf("html: %d %q", status, body)
	}
}

// TestErrors: every error is JSON with the right status.
func TestErrors(t *testing.T) {
	e := newEnv(t, sync.WSOptions{})
	if status, _, _ := e.do("PUT", "/api/v1/docs/x", "text/plain", []byte("x")); status != 200 {
		t.Fatal(status)
	}
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
	}{
		{"missing doc", "GET", "/api/v1/docs/nope", "", nil, 404},
		{"missing doc export", "GET", "/api/v1/docs/nope/export?format=text", "", nil, 404},
		{"missing doc delete", "DELETE", "/api/v1/docs/nope", "", nil, 404},
		{"bad format", "GET", "/api/v1/docs/x/export?format=pdf", "", nil, 400},
		{"bad sv", "GET", "/api/v1/docs/x/export?format=yjs&sv=!!", "", nil, 400},
		{"sv not a state vector", "GET", "/api/v1/docs/x/export?format=yjs&sv=BQE", "", nil, 400},
		{"sv without yjs", "GET", "/api/v1/docs/x/export?format=text&sv=AA", "", nil, 400},
		{"missing field", "GET", "/api/v1/docs/x/export?format=text&field=zz", "", nil, 404},
		{"bad name", "GET", "/api/v1/docs/a%00b", "", nil, 400},
		{"malformed update", "POST", "/api/v1/docs/x/updates", "application/octet-stream", []byte{1, 2, 3}, 400},
		{"empty update", "POST", "/api/v1/docs/x/updates", "application/octet-stream", nil, 400},
		{"unsupported type", "PUT", "/api/v1/docs/x", "image/png", []byte{1}, 415},
		{"no type", "PUT", "/api/v1/docs/x", "", []byte{1}, 415},
		{"too big", "PUT", "/api/v1/docs/x", "text/plain", bytes.Repeat([]byte("a"), 2<<20), 413},
		{"unknown route", "GET", "/nope", "", nil, 404},
		{"unknown action", "GET", "/api/v1/docs/x/nope", "", nil, 404},
		{"wrong method", "POST", "/api/v1/docs/x", "", nil, 405},
		{"wrong method on list", "POST", "/api/v1/docs", "", nil, 405},
		{"compact is POST", "GET", "/api/v1/docs/x/compact", "", nil, 405},
		{"compact of a missing doc", "POST", "/api/v1/docs/nope/compact", "", nil, 404},
		{"ws without upgrade", "GET", "/ws/x", "", nil, 400},
		{"ws without name", "GET", "/ws/", "", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, hub: e.hub}
			status, hdr, body := e.do(tt.method, tt.path, tt.ctype, tt.body)
			var eb errorBody
			if status != tt.status || json.Unmarshal(body, &eb) != nil || eb.Error == "" ||
				!strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("%d %s %q, want %d and a JSON error", status, hdr.Get("Content-Type"), body, tt.status)
			}
		})
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, _, _ := e.do("GET", p, "", nil); status != 200 {
			t.Errorf("%s: %d", p, status)
		}
	}
}

// TestBadFrames: the transport-level refusals close with their codes.
func TestBadFrames(t *testing.T) {
	e := newEnv(t, sync.WSOptions{MaxFrameBytes: 1024})
	tests := []struct {
		name string
		typ  int
		data []byte
		code int
	}{
		{"text frame", websocket.TextMessage, []byte("hello"), sync.CloseUnsupported},
		{"too big", websocket.BinaryMessage, make([]byte, 2048), sync.CloseTooBig},
		{"malformed", websocket.BinaryMessage, []byte{0, 9}, sync.CloseInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, hub: e.hub}
			w := e.dial("/ws/frames")
			w.next() // step 1
			if err := w.c.WriteMessage(tt.typ, tt.data); err != nil {
				t.Fatal(err)
			}
			if code := w.closeCode(); code != tt.code {
				t.Errorf("closed with %d, want %d", code, tt.code)
			}
		})
	}
}

// TestKeepalive: a dead peer (no pongs) is reaped; a quiet one is sent
// keepalives.
func TestKeepalive(t *testing.T) {
	m := NewMetrics()
	hub := sync.NewHub(sync.Config{Store: storage.NewMemory(), Metrics: m,
		PingInterval: 100 * time.Millisecond, KeepaliveInterval: 200 * time.Millisecond, Log: testLog(t)})
	srv := httptest.NewServer(New(Config{Hub: hub, WS: sync.WSOptions{PongTimeout: 700 * time.Millisecond}}))
	defer srv.Close()
	defer hub.Close(context.Background())
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/k"
	// A client that reads (so answers pings) gets keepalive messages.
	live, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	keepalives := make(chan struct{}, 100)
	go func() {
		for {
			_, f, err := live.ReadMessage() // reading answers pings
			if err != nil {
				close(keepalives)
				return
			}
			if bytes.Equal(f, []byte{1, 1, 0}) {
				keepalives <- struct{}{}
			}
		}
	}()
	for i := 0; i < 2; i++ {
		select {
		case _, ok := <-keepalives:
			if !ok {
				t.Fatal("live client closed")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no keepalive")
		}
	}
	// A client that never reads never answers pings: reaped.
	dead, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	deadline := time.Now().Add(3 * time.Second)
	for hub.Stats().Peers != 2 { // it joins after the handshake
		if time.Now().After(deadline) {
			t.Fatalf("dead peer never joined: %d peers", hub.Stats().Peers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for hub.Stats().Peers != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("dead peer not reaped: %d peers", hub.Stats().Peers)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The live one stays through several pong timeouts.
	time.Sleep(1500 * time.Millisecond)
	if n := hub.Stats().Peers; n != 1 {
		t.Fatalf("%d peers, want the live one", n)
	}
}
