// Package ui serves quire's pages: the document list at /, the
// collaborative editor at /d/<name> and the dashboard at /admin, built
// from the npm project in this directory into dist/, which is committed
// and embedded so that `go run ./cmd/quire serve` needs no npm.
//
// Rebuild dist/ after changing src/ with `npm ci && npm run build` here;
// scripts/ui-check.sh fails when dist/ differs from what the sources
// build.
//
// The pages are one shell (index.html) that picks the page from the path;
// the shell is sent for /, /admin and every /d/<name>. The hashed files
// under /assets/ are cached for a year, everything else is revalidated
// with its ETag. Scripts, styles and the shell are sent gzipped to the
// clients that accept it (compressed once, when the handler is made).
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/gin-gonic/gin"
)

//go:embed dist
var dist embed.FS

// Cache-Control values.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// contentSecurityPolicy allows the pages' own scripts and styles, and
// WebSockets and fetches to their own host only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".json":        "application/json; charset=utf-8",
	".webmanifest": "application/manifest+json",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
}

// file is one file of the bundle, read (and compressed) the first time it
// is asked for: most servers never serve their pages, and a read bundle
// costs about 2 MiB of heap for the life of the process.
type file struct {
	fsys fs.FS
	path string

	once  gosync.Once
	data  []byte
	gz    []byte // nil when compression does not pay
	ctype string
	etag  string
	cache string
	err   error
}

// Handler serves the pages and their assets. It answers only the paths of
// the pages and of the files in dist/; anything else is a 404.
type Handler struct {
	files map[string]*file // by URL path: "/assets/x.js", "/sw.js"
	shell *file            // index.html
}

// New returns the handler for the embedded bundle. It panics if the bundle
// has no index.html: that is a build mistake, caught by the tests.
func New() *Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	return newHandler(sub)
}

func newHandler(fsys fs.FS) *Handler {
	h := &Handler{files: map[string]*file{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f := &file{fsys: fsys, path: p}
		if p == "index.html" {
			h.shell = f
			return nil
		}
		h.files["/"+p] = f
		return nil
	})
	if err != nil {
		panic("ui: reading the bundle: " + err.Error())
	}
	if h.shell == nil {
		panic("ui: the bundle has no index.html (run npm run build in web/ui)")
	}
	return h
}

// load reads the file, once; a file that cannot be read (the embedded
// bundle can always be) answers 500.
func (f *file) load() *file {
	f.once.Do(func() {
		data, err := fs.ReadFile(f.fsys, f.path)
		if err != nil {
			f.err = err
			return
		}
		f.fill(data)
	})
	return f
}

func (f *file) fill(data []byte) {
	ext := path.Ext(f.path)
	ctype := contentTypes[ext]
	if ctype == "" {
		ctype = mime.TypeByExtension(ext)
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(data)
	f.data, f.ctype, f.etag, f.cache = data, ctype, `"`+hex.EncodeToString(sum[:8])+`"`, cacheRevalidate
	if strings.HasPrefix(f.path, "assets/") {
		f.cache = cacheImmutable
	}
	if compressible(ctype) && len(data) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		if buf.Len() < len(data)*9/10 {
			f.gz = buf.Bytes()
		}
	}
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.HasPrefix(ctype, "image/svg")
}

// isPage reports whether p is one of the pages the shell renders.
func isPage(p string) bool {
	return p == "/" || p == "/index.html" || p == "/admin" || (strings.HasPrefix(p, "/d/") && len(p) > len("/d/"))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		jsonError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	p := r.URL.Path
	f := h.files[p]
	if f == nil && isPage(p) {
		f = h.shell
	}
	if f == nil {
		jsonError(w, http.StatusNotFound, "no such route")
		return
	}
	if f.load().err != nil {
		jsonError(w, http.StatusInternalServerError, "reading the page failed")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.cache)
	hd.Set("ETag", f.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	if f == h.shell {
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("Referrer-Policy", "same-origin")
	}
	if f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
	}
	if etagMatch(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.data
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = f.gz
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// Register adds the pages and the bundle's files to a gin router (GET and
// HEAD). It registers "/", so the router must not have another handler
// for "/".
func (h *Handler) Register(r gin.IRoutes) {
	serve := gin.WrapH(h)
	paths := []string{"/", "/admin", "/d/*name", "/assets/*file"}
	for p := range h.files {
		if !strings.HasPrefix(p, "/assets/") {
			paths = append(paths, p) // /sw.js, /favicon.svg
		}
	}
	for _, p := range paths {
		r.GET(p, serve)
		r.HEAD(p, serve)
	}
}

// Register adds quire's pages to a gin router: ui.Register(engine).
func Register(r gin.IRoutes) { New().Register(r) }

func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") || strings.TrimSpace(coding) == "*" {
			params = strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
		}
	}
	return false
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(`{"error":"` + msg + `"}` + "\n"))
}
