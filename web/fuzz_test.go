package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
	"github.com/quirehq/quire/sync"
)

// importTypes are the Content-Types FuzzImport sends, picked by its kind
// byte.
var importTypes = []string{
	"text/plain",
	"text/plain; charset=utf-8",
	"text/markdown",
	"text/x-markdown",
	"application/octet-stream",
	"application/vnd.yjs.update",
}

// fuzzSeedDoc is the document every FuzzImport input is imported into:
// roots of each kind, so that a field naming one of another type is
// refused.
func fuzzSeedDoc() []byte {
	d := crdt.NewDoc(crdt.Options{ClientID: 4242})
	var ups [][]byte
	d.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = d.Text("t").Insert(0, "seed text", nil)
	_ = d.Map("m").Set("k", "v")
	f := d.XmlFragment("prosemirror")
	p := crdt.NewXmlElement("paragraph")
	if err := f.Insert(0, p); err != nil {
		panic(err)
	}
	if err := p.Insert(0, crdt.NewXmlText()); err != nil {
		panic(err)
	}
	u, err := crdt.MergeUpdates(ups)
	if err != nil {
		panic(err)
	}
	return u
}

// FuzzImport sends arbitrary bodies, as each Content-Type PUT takes, into
// a field chosen by the input, through the real handler over an in-memory
// store. The property: no panic, and either a 2xx with the document's
// metadata, or a 4xx JSON error after which the document is byte for
// byte what it was.
func FuzzImport(f *testing.F) {
	hub := sync.NewHub(sync.Config{Store: storage.NewMemory(), Grace: time.Second, MaxDocBytes: 4 << 20})
	srv := New(Config{Hub: hub, MaxBodyBytes: 256 << 10})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hub.Close(ctx)
	})
	seed := fuzzSeedDoc()
	other := crdt.NewDoc(crdt.Options{ClientID: 7})
	var ups [][]byte
	other.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = other.Text("t").Insert(0, "more", nil)
	_ = other.Map("m").Set("n", 1.5)
	for i := range importTypes {
		for _, field := range []string{"", "t", "m", "prosemirror", "content", "quill"} {
			f.Add(uint8(i), field, []byte("# Title\n\nSome **bold** text and `code`.\n\n- [ ] a task\n"))
		}
	}
	f.Add(uint8(0), "t", []byte("line\r\nline\x00\xff"))
	f.Add(uint8(2), "", []byte("> quote\n\n```go\ncode\n```\n\n![img](http://x/y.png \"t\")\n\n1. one\n2. two\n\n---\n"))
	f.Add(uint8(4), "", ups[0])
	f.Add(uint8(4), "", seed)
	f.Add(uint8(4), "", []byte{0, 0})
	f.Add(uint8(4), "", []byte{1, 2, 3})
	f.Add(uint8(5), "", []byte{})

	var n atomic.Uint64
	f.Fuzz(func(t *testing.T, kind uint8, field string, body []byte) {
		ctx := context.Background()
		name := fmt.Sprintf("fuzz-%d", n.Add(1))
		if err := hub.Apply(ctx, name, seed); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = hub.Delete(ctx, name) }()
		state := func() []byte {
			var out []byte
			err := hub.Read(ctx, name, func(doc *crdt.Doc) (err error) {
				out, err = doc.EncodeStateAsUpdate(nil)
				return err
			})
			if err != nil {
				t.Fatalf("reading the document back: %v", err)
			}
			return out
		}
		before := state()

		ctype := importTypes[int(kind)%len(importTypes)]
		target := "/api/v1/docs/" + name
		if field != "" {
			target += "?field=" + url.QueryEscape(field)
		}
		req := httptest.NewRequest(http.MethodPut, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)

		code := rec.Code
		isJSON := strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json")
		switch {
		case code >= 200 && code < 300:
			var info sync.DocInfo
			if !isJSON || json.Unmarshal(rec.Body.Bytes(), &info) != nil || info.Name != name {
				t.Fatalf("%s %q: %d %q, want the document's metadata", ctype, field, code, rec.Body.Bytes())
			}
		case code >= 400 && code < 500:
			var eb errorBody
			if !isJSON || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error == "" {
				t.Fatalf("%s %q: %d %q, want a JSON error", ctype, field, code, rec.Body.Bytes())
			}
			if after := state(); !bytes.Equal(after, before) {
				t.Fatalf("%s %q: %d %s, and the document changed:\nbefore % x\nafter  % x", ctype, field, code, eb.Error, before, after)
			}
		default:
			t.Fatalf("%s %q: status %d %q", ctype, field, code, rec.Body.Bytes())
		}
	})
}
