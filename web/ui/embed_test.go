package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"
)

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// The embedded bundle is what the sources build: it has the shell, the
// service worker and scripts, and the shell points at files that exist.
func TestEmbeddedBundle(t *testing.T) {
	h := New()
	if _, ok := h.files["/sw.js"]; !ok {
		t.Error("no /sw.js in the bundle")
	}
	shell := string(h.shell.load().data)
	if !strings.Contains(shell, `<main id="main"`) {
		t.Error("index.html has no main element")
	}
	n := 0
	for _, attr := range []string{`src="`, `href="`} {
		for rest := shell; ; {
			i := strings.Index(rest, attr)
			if i < 0 {
				break
			}
			rest = rest[i+len(attr):]
			ref := rest[:strings.IndexByte(rest, '"')]
			if strings.HasPrefix(ref, "/assets/") || ref == "/favicon.svg" {
				n++
				if w := get(t, h, "GET", ref); w.Code != 200 {
					t.Errorf("index.html refers to %s: %d", ref, w.Code)
				}
			}
		}
	}
	if n < 2 {
		t.Errorf("index.html refers to %d bundle files, want a script and a style sheet at least", n)
	}
}

func testHandler() *Handler {
	return newHandler(fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><title>quire</title>" + strings.Repeat(" ", 600))},
		"sw.js":               {Data: []byte("self.addEventListener('fetch', () => {})")},
		"favicon.svg":         {Data: []byte("<svg/>")},
		"assets/app-1234.js":  {Data: []byte(strings.Repeat("console.log('quire');\n", 100))},
		"assets/app-1234.css": {Data: []byte("body{}")},
	})
}

func TestPagesAndContentTypes(t *testing.T) {
	h := testHandler()
	cases := []struct {
		path, ctype, cache string
		shell              bool
	}{
		{"/", "text/html; charset=utf-8", "no-cache", true},
		{"/admin", "text/html; charset=utf-8", "no-cache", true},
		{"/d/notes", "text/html; charset=utf-8", "no-cache", true},
		{"/d/a%2Fb%20c", "text/html; charset=utf-8", "no-cache", true},
		{"/d/team/plans", "text/html; charset=utf-8", "no-cache", true},
		{"/sw.js", "text/javascript; charset=utf-8", "no-cache", false},
		{"/favicon.svg", "image/svg+xml", "no-cache", false},
		{"/assets/app-1234.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", false},
		{"/assets/app-1234.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", false},
	}
	for _, c := range cases {
		w := get(t, h, "GET", c.path)
		if w.Code != 200 {
			t.Errorf("%s: status %d", c.path, w.Code)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := w.Header().Get("Cache-Control"); got != c.cache {
			t.Errorf("%s: Cache-Control %q, want %q", c.path, got, c.cache)
		}
		if got := w.Header().Get("Content-Security-Policy") != ""; got != c.shell {
			t.Errorf("%s: has a CSP: %v, want %v", c.path, got, c.shell)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
	}
	for _, p := range []string{"/d/", "/assets/missing.js", "/nope", "/admin/x", "/index.htm"} {
		w := get(t, h, "GET", p)
		if w.Code != 404 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, want a JSON 404", p, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if w := get(t, h, "POST", "/"); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

func TestGzipETagHead(t *testing.T) {
	h := testHandler()
	plain := get(t, h, "GET", "/assets/app-1234.js")
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip without Accept-Encoding")
	}
	w := get(t, h, "GET", "/assets/app-1234.js", "Accept-Encoding", "br, gzip")
	if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("headers %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Error("gzipped body differs")
	}
	if w := get(t, h, "GET", "/assets/app-1234.js", "Accept-Encoding", "gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
	etag := plain.Header().Get("ETag")
	if w := get(t, h, "GET", "/assets/app-1234.js", "If-None-Match", etag); w.Code != 304 || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", w.Code, w.Body.Len())
	}
	head := get(t, h, "HEAD", "/d/x")
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, length %q", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
}

func TestRegisterOnGin(t *testing.T) {
	gin.SetMode(gin.TestMode)
	e := gin.New()
	testHandler().Register(e)
	e.GET("/api/v1/docs", func(c *gin.Context) { c.String(200, "api") })
	for p, want := range map[string]int{"/": 200, "/admin": 200, "/d/x": 200, "/d/a/b": 200, "/sw.js": 200,
		"/favicon.svg": 200, "/assets/app-1234.js": 200, "/assets/zzz.js": 404, "/api/v1/docs": 200} {
		if w := get(t, e, "GET", p); w.Code != want {
			t.Errorf("GET %s: %d, want %d", p, w.Code, want)
		}
	}
	if w := get(t, e, "HEAD", "/d/x"); w.Code != 200 {
		t.Errorf("HEAD /d/x: %d", w.Code)
	}
	// the real bundle registers too (no route conflicts)
	Register(gin.New())
}
