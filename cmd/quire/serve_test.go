package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/sync"
	"github.com/quirehq/quire/web"
)

// TestServeAndOfflineCommands runs the server, edits a document over a
// WebSocket, shuts the server down as SIGTERM would, and reads the data
// file with the offline commands.
func TestServeAndOfflineCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "sub", "quire.db")
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	o := serveOptions{addr: "127.0.0.1:0", data: data, grace: time.Second, shutdownTimeout: 5 * time.Second,
		outboxMessages: 1024, outboxBytes: 4 << 20, maxFrame: 1 << 20, maxBody: 1 << 20}
	go func() { done <- serve(ctx, o, &log, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/cli-doc", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	d := crdt.NewDoc(crdt.Options{ClientID: 3})
	var ups [][]byte
	d.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = d.Text("content").Insert(0, "from the wire", nil)
	if err := ws.WriteMessage(websocket.BinaryMessage, sync.EncodeSyncUpdate(ups[0])); err != nil {
		t.Fatal(err)
	}
	// Wait for the echo: the update is durable then.
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, f, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := sync.DecodeFrame(f); len(m) == 1 && m[0].Type == sync.MsgSync && m[0].Sync == sync.SyncUpdate {
			break
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	resp.Body.Close()

	cancel() // as SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	_, _, err = ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != sync.CloseGoingAway {
		t.Errorf("peer closed with %v, want 1001", err)
	}
	if !strings.Contains(logs.String(), `"message":"stopped"`) {
		t.Errorf("no stop log line:\n%s", logs.String())
	}

	cli := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := cli("", "export", "--data", data, "--doc", "cli-doc", "--format", "text"); code != 0 || out != "from the wire" {
		t.Fatalf("export: %d %q %s", code, out, errs)
	}
	if code, out, errs := cli("# Hi\n", "import", "--data", data, "--doc", "md-doc", "--format", "markdown", "-"); code != 0 || !strings.Contains(out, "imported") {
		t.Fatalf("import: %d %q %s", code, out, errs)
	}
	if code, out, _ := cli("", "export", "--data", data, "--doc", "md-doc", "--format", "markdown"); code != 0 || out != "# Hi\n" {
		t.Fatalf("export markdown: %d %q", code, out)
	}
	if code, out, _ := cli("", "export", "--data", data, "--doc", "md-doc", "--format", "html"); code != 0 || !strings.Contains(out, "<h1>Hi</h1>") {
		t.Fatalf("export html: %d %q", code, out)
	}
	yjs := filepath.Join(dir, "state.bin")
	code, out, _ := cli("", "export", "--data", data, "--doc", "cli-doc", "--format", "yjs")
	if code != 0 || os.WriteFile(yjs, []byte(out), 0o600) != nil {
		t.Fatal("export yjs")
	}
	if code, _, errs := cli("", "import", "--data", data, "--doc", "copy", yjs); code != 0 {
		t.Fatalf("import yjs: %s", errs)
	}
	if code, out, _ := cli("", "export", "--data", data, "--doc", "copy", "--format", "json"); code != 0 || out != "{\"content\":\"from the wire\"}\n" {
		t.Fatalf("export copy: %d %q", code, out)
	}
	if code, out, _ := cli("", "list", "--data", data); code != 0 || !strings.Contains(out, "cli-doc") || !strings.Contains(out, "md-doc") {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, errs := cli("", "compact", "--data", data); code != 0 || !strings.Contains(out, "cli-doc: 1 log entries") {
		t.Fatalf("compact: %d %q %s", code, out, errs)
	}
	if code, out, _ := cli("", "list", "--data", data, "--json"); code != 0 || !strings.Contains(out, `"logCount":0`) {
		t.Fatalf("list --json: %d %q", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"export", "--data", data, "--doc", "nope"}, 1, "not found"},
		{[]string{"export", "--data", filepath.Join(dir, "none.db"), "--doc", "x"}, 1, "no such file"},
		{[]string{"import", "--data", data, "--doc", "x", "file.pdf"}, 2, "extension"},
		{[]string{"import", "--data", data, "x.md"}, 2, "--doc is required"},
		{[]string{"compact", "--data", data, "--doc", "nope"}, 1, "not found"},
		{[]string{"serve", "--log-level", "loud"}, 2, "log level"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
	} {
		if code, _, errs := cli("", tc.args...); code != tc.code || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, code, errs, tc.code, tc.err)
		}
	}
	for _, c := range []string{"serve", "export", "import", "list", "compact"} {
		if code, _, errs := cli("", c, "--help"); code != 0 || !strings.Contains(errs, "usage: quire "+c) {
			t.Errorf("%s --help: %d %q", c, code, errs)
		}
	}
}

// TestDataFileLocked: offline commands refuse a data file a server holds.
func TestDataFileLocked(t *testing.T) {
	data := filepath.Join(t.TempDir(), "quire.db")
	st, err := openStore(data, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"list", "--data", data}, nil, io.Discard, &errb) }()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(errb.String(), "in use") {
			t.Errorf("exit %d %q", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("list waited for the lock")
	}
	_ = out
}

// TestParseServe: every flag has its QUIRE_* variable, the flag wins,
// and bad values are usage errors (exit 2).
func TestParseServe(t *testing.T) {
	envOf := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	o, err := parseServe(nil, envOf(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.maxConns != web.DefaultMaxConns || o.maxConnsPerIP != web.DefaultMaxConnsPerIP || o.maxNameLen != sync.MaxNameLen ||
		o.maxPeersPerDoc != sync.DefaultMaxPeersPerDoc || o.maxDocs != sync.DefaultMaxDocs || o.maxDocBytes != sync.DefaultMaxDocBytes ||
		o.maxPendingBytes != sync.DefaultMaxPendingBytes || o.maxAwarenessBytes != sync.DefaultMaxAwarenessBytes ||
		o.rateMessages != sync.DefaultRateMessages || o.rateBurstMessages != sync.DefaultRateBurstMessages ||
		o.rateBytes != sync.DefaultRateBytes || o.rateBurstBytes != sync.DefaultRateBurstBytes ||
		o.hibernateAfter != sync.DefaultHibernateAfter || o.authSecret != "" || o.addr != defaultAddr {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseServe([]string{"--max-conns", "7", "--rate-bytes", "1000"}, envOf(
		"QUIRE_MAX_CONNS", "9", // the flag wins
		"QUIRE_MAX_CONNS_PER_IP", "3",
		"QUIRE_AUTH_SECRET", "s3cret",
		"QUIRE_AUTH_PUBLIC_KEY", "/k.pem",
		"QUIRE_ALLOWED_ORIGINS", "https://a.example",
		"QUIRE_MAX_NAME_LEN", "64",
		"QUIRE_MAX_PEERS_PER_DOC", "11",
		"QUIRE_MAX_DOCS", "12",
		"QUIRE_MAX_DOC_BYTES", "13",
		"QUIRE_MAX_PENDING_BYTES", "14",
		"QUIRE_MAX_AWARENESS_BYTES", "15",
		"QUIRE_RATE_MESSAGES", "16.5",
		"QUIRE_RATE_BURST_MESSAGES", "17",
		"QUIRE_RATE_BYTES", "18", // the flag wins
		"QUIRE_RATE_BURST_BYTES", "19",
		"QUIRE_HIBERNATE_AFTER", "-1s",
		"QUIRE_METRICS_ADDR", "127.0.0.1:9100",
		"QUIRE_TRUSTED_PROXIES", "10.0.0.0/8",
		"QUIRE_ADDR", ":9999",
		"QUIRE_UNLOAD_AFTER", "2m",
	), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := serveOptions{maxConns: 7, maxConnsPerIP: 3, authSecret: "s3cret", authPublicKey: "/k.pem",
		allowedOrigins: "https://a.example", maxNameLen: 64, maxPeersPerDoc: 11, maxDocs: 12, maxDocBytes: 13,
		maxPendingBytes: 14, maxAwarenessBytes: 15, rateMessages: 16.5, rateBurstMessages: 17, rateBytes: 1000,
		rateBurstBytes: 19, hibernateAfter: -time.Second, metricsAddr: "127.0.0.1:9100", trustedProxies: "10.0.0.0/8",
		addr: ":9999", grace: 2 * time.Minute}
	got := o
	got.data, got.logFormat, got.logLevel, got.shutdownTimeout, got.outboxMessages, got.outboxBytes,
		got.maxFrame, got.maxBody, got.compactBytes, got.compactCount = "", "", "", 0, 0, 0, 0, 0, 0, 0
	if got != want {
		t.Errorf("from the environment:\n got %+v\nwant %+v", got, want)
	}
	for _, tc := range []struct {
		args []string
		env  []string
		err  string
	}{
		{[]string{"--max-name-len", "0"}, nil, "max-name-len"},
		{[]string{"--max-name-len", "256"}, nil, "max-name-len"},
		{nil, []string{"QUIRE_MAX_CONNS", "lots"}, "QUIRE_MAX_CONNS"},
		{nil, []string{"QUIRE_HIBERNATE_AFTER", "10"}, "QUIRE_HIBERNATE_AFTER"},
		{[]string{"--allowed-origins", "example.com"}, nil, "allowed-origins"},
		{[]string{"--rate-messages", "0"}, nil, "rate-messages"},
		{[]string{"--rate-bytes", "NaN"}, nil, "rate-bytes"},
		{nil, []string{"QUIRE_RATE_MESSAGES", "+Inf"}, "rate-messages"},
		{[]string{"--max-doc-bytes", "-5"}, nil, "max-doc-bytes"},
		{[]string{"--no-such-flag"}, nil, "no-such-flag"},
	} {
		_, err := parseServe(tc.args, envOf(tc.env...), io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v %v: %v, want a usage error about %s", tc.args, tc.env, err, tc.err)
		}
	}
	var help bytes.Buffer
	if _, err := parseServe([]string{"--help"}, envOf(), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	for _, f := range []string{"auth-secret", "auth-public-key", "allowed-origins", "max-conns", "max-conns-per-ip", "max-name-len",
		"max-peers-per-doc", "max-docs", "max-doc-bytes", "max-pending-bytes", "max-awareness-bytes", "rate-messages",
		"rate-burst-messages", "rate-bytes", "rate-burst-bytes", "hibernate-after", "metrics-addr", "trusted-proxies"} {
		if !strings.Contains(help.String(), "-"+f) || !strings.Contains(help.String(), "$"+envName(f)) {
			t.Errorf("--help does not show --%s and $%s", f, envName(f))
		}
	}
}

// startServe runs serve with o until the test ends; it returns the
// address and a function that reads the log so far.
func startServe(t *testing.T, o serveOptions) (string, func() string) {
	t.Helper()
	o.data = filepath.Join(t.TempDir(), "quire.db")
	o.addr = "127.0.0.1:0"
	o.shutdownTimeout = 5 * time.Second
	var logs bytes.Buffer
	var mu gosync.Mutex
	log := zerolog.New(&lockedWriter{&mu, &logs})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, &log, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return addr, func() string {
			mu.Lock()
			defer mu.Unlock()
			return logs.String()
		}
	case err := <-done:
		done <- nil
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	return "", nil
}

type lockedWriter struct {
	mu *gosync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestServeAuth: with a secret the server wants tokens, says so, and
// serves unauthenticated metrics on --metrics-addr only; without one it
// warns that it is open.
func TestServeAuth(t *testing.T) {
	secret := "an HS256 secret of at least 32 bytes!"
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := metricsLn.Addr().String()
	metricsLn.Close()
	addr, logs := startServe(t, serveOptions{authSecret: secret, metricsAddr: metricsAddr, allowedOrigins: "https://app.example"})
	if l := logs(); strings.Contains(l, "authentication is off") || !strings.Contains(l, "authentication on") {
		t.Errorf("logs with auth on:\n%s", l)
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/doc", nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("WebSocket without a token: %v %v", err, resp)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"docs": []string{"doc"}, "mode": "write",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/doc?token="+tok, http.Header{"Origin": {"https://app.example"}})
	if err != nil {
		t.Fatalf("WebSocket with a token from an allowed origin: %v", err)
	}
	ws.Close()
	_, resp, err = websocket.DefaultDialer.Dial("ws://"+addr+"/ws/doc?token="+tok, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("WebSocket from another origin: %v %v", err, resp)
	}
	for _, tc := range []struct {
		url    string
		status int
	}{
		{"http://" + addr + "/metrics", 401},
		{"http://" + addr + "/healthz", 200},
		{"http://" + addr + "/api/v1/docs", 401},
		{"http://" + metricsAddr + "/metrics", 200},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.url, resp.StatusCode, tc.status)
		}
	}

	_, openLogs := startServe(t, serveOptions{})
	if l := openLogs(); !strings.Contains(l, `"level":"warn"`) || !strings.Contains(l, "authentication is off") {
		t.Errorf("no open-mode warning:\n%s", l)
	}

	// The secret from a file, as container secrets are mounted: its
	// trailing line break is not part of it.
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileAddr, _ := startServe(t, serveOptions{authSecretFile: secretFile})
	if ws, _, err := websocket.DefaultDialer.Dial("ws://"+fileAddr+"/ws/doc?token="+tok, nil); err != nil {
		t.Errorf("WebSocket with a token signed by the secret from --auth-secret-file: %v", err)
	} else {
		ws.Close()
	}
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+fileAddr+"/ws/doc", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("--auth-secret-file: WebSocket without a token: %v %v", err, resp)
	}

	// Bad key material stops the server before it listens.
	key := filepath.Join(t.TempDir(), "key.pem")
	_ = os.WriteFile(key, []byte("not a key"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	for _, o := range []serveOptions{{authSecret: "short"}, {authPublicKey: key}, {authPublicKey: key + ".missing"},
		{authSecretFile: empty}, {authSecretFile: empty + ".missing"}, {authSecretFile: secretFile, authSecret: secret}} {
		o.data = filepath.Join(t.TempDir(), "q.db")
		o.addr = "127.0.0.1:0"
		log := zerolog.Nop()
		var ee *exitError
		if err := serve(context.Background(), o, &log, nil); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%+v: %v, want a usage error", o, err)
		}
	}
}
