package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/sync"
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
