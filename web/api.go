package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/render"
	"github.com/quirehq/quire/sync"
)

type listBody struct {
	Docs []sync.DocInfo `json:"docs"`
}

// list answers every document, or with authentication on those the
// token opens (all of them for an admin).
func (s *Server) list(c *gin.Context) {
	docs, err := s.hub.List(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if g := grantOf(c); s.auth != nil && (g == nil || !g.Admin()) {
		kept := docs[:0]
		for _, d := range docs {
			if g != nil && g.CanRead(d.Name) {
				kept = append(kept, d)
			}
		}
		docs = kept
	}
	c.JSON(http.StatusOK, listBody{Docs: docs})
}

// fail answers a hub error with its status; a server-side failure is
// logged and its details kept out of the answer.
func (s *Server) fail(c *gin.Context, err error) {
	status := statusOf(err)
	msg := err.Error()
	if errors.Is(err, sync.ErrBusy) {
		c.Header("Retry-After", "5")
	}
	if status == http.StatusInternalServerError {
		s.log.Error().Err(err).Str("path", c.Request.URL.EscapedPath()).Msg("request failed")
		msg = "internal error"
	}
	jsonError(c, status, msg)
}

// docRoute dispatches /api/v1/docs/<name>[/export|/updates]. The name is
// parsed from the escaped path, so that %2F stays inside it.
func (s *Server) docRoute(method string) gin.HandlerFunc {
	return func(c *gin.Context) {
		rest, ok := strings.CutPrefix(c.Request.URL.EscapedPath(), "/api/v1/docs/")
		if ok && rest == "" && method == http.MethodGet {
			s.list(c)
			return
		}
		if !ok || rest == "" { // the collection: only GET
			c.Header("Allow", "GET")
			jsonError(c, http.StatusMethodNotAllowed, method+" is not allowed here")
			return
		}
		seg, action, _ := strings.Cut(rest, "/")
		name, err := unescapeSegment(seg)
		if err == nil {
			if action == "" && method == http.MethodDelete {
				// Any name the store may hold can be deleted, also one
				// from before the naming rules.
				err = sync.ValidName(name)
			} else {
				err = s.checkName(name)
			}
		}
		if err != nil {
			jsonError(c, http.StatusBadRequest, "document name: "+err.Error())
			return
		}
		switch {
		case action == "" && method == http.MethodGet:
			if s.permit(c, name, accessRead) {
				s.info(c, name)
			}
		case action == "" && method == http.MethodDelete:
			if s.permit(c, name, accessAdmin) {
				s.delete(c, name)
			}
		case action == "" && method == http.MethodPut:
			if s.permit(c, name, accessWrite) {
				s.importDoc(c, name)
			}
		case action == "export" && method == http.MethodGet:
			if s.permit(c, name, accessRead) {
				s.export(c, name)
			}
		case action == "updates" && method == http.MethodPost:
			if s.permit(c, name, accessWrite) {
				s.postUpdate(c, name)
			}
		case action == "compact" && method == http.MethodPost:
			if s.permit(c, name, accessAdmin) {
				s.compact(c, name)
			}
		case action == "" || action == "export" || action == "updates" || action == "compact":
			jsonError(c, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here", method))
		default:
			jsonError(c, http.StatusNotFound, "no such route")
		}
	}
}

func unescapeSegment(seg string) (string, error) {
	name, err := url.PathUnescape(seg)
	if err != nil {
		return "", fmt.Errorf("bad percent-encoding in %q", seg)
	}
	return name, nil
}

func (s *Server) info(c *gin.Context, name string) {
	info, err := s.hub.Info(c.Request.Context(), name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, info)
}

// compact folds the document's log into its snapshot now (the server
// also does it by itself as logs grow) and answers the new metadata.
func (s *Server) compact(c *gin.Context, name string) {
	if err := s.hub.Compact(c.Request.Context(), name); err != nil {
		s.fail(c, err)
		return
	}
	s.info(c, name)
}

func (s *Server) delete(c *gin.Context, name string) {
	if err := s.hub.Delete(c.Request.Context(), name); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// exportFormats maps ?format= to the response's Content-Type.
var exportFormats = map[string]string{
	"text":     "text/plain; charset=utf-8",
	"markdown": "text/markdown; charset=utf-8",
	"html":     "text/html; charset=utf-8",
	"json":     "application/json; charset=utf-8",
	"yjs":      "application/octet-stream",
}

// export renders a document. It does not load a document that does not
// exist (404), and renders inside the session, ordered with the edits.
func (s *Server) export(c *gin.Context, name string) {
	format := c.DefaultQuery("format", "json")
	ctype, ok := exportFormats[format]
	if !ok {
		jsonError(c, http.StatusBadRequest, fmt.Sprintf("unknown format %q (want text, markdown, html, json or yjs)", format))
		return
	}
	field := c.Query("field")
	var sv []byte
	if v, ok := c.GetQuery("sv"); ok {
		if format != "yjs" {
			jsonError(c, http.StatusBadRequest, "sv applies to format=yjs only")
			return
		}
		var err error
		if sv, err = decodeBase64(v); err != nil {
			jsonError(c, http.StatusBadRequest, "sv is not base64: "+err.Error())
			return
		}
		if _, err := crdt.DecodeStateVector(sv); err != nil {
			jsonError(c, http.StatusBadRequest, "sv is not a state vector: "+err.Error())
			return
		}
	}
	ctx := c.Request.Context()
	if _, err := s.hub.Info(ctx, name); err != nil {
		s.fail(c, err)
		return
	}
	var out []byte
	var renderErr error
	var err error
	if format == "yjs" {
		// Served from a cold document's bytes: an export (a backup job,
		// a service mirroring documents) does not build a replica.
		out, err = s.hub.State(ctx, name, sv) // sv was checked above
	} else {
		err = s.hub.Read(ctx, name, func(doc *crdt.Doc) error {
			var str string
			str, renderErr = render.As(doc, format, field)
			out = []byte(str)
			return nil
		})
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if renderErr != nil {
		switch {
		case errors.Is(renderErr, render.ErrNoField):
			jsonError(c, http.StatusNotFound, renderErr.Error())
		case errors.Is(renderErr, render.ErrUnsupported):
			jsonError(c, http.StatusUnprocessableEntity, renderErr.Error())
		case errors.Is(renderErr, crdt.ErrMalformed):
			jsonError(c, http.StatusBadRequest, renderErr.Error())
		default:
			s.fail(c, renderErr)
		}
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, ctype, out)
}

// decodeBase64 takes standard or URL-safe base64, padded or not: a state
// vector in a query string is often written either way.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	// A '+' in a query string that was not escaped arrives as a space.
	return base64.RawStdEncoding.DecodeString(strings.ReplaceAll(s, " ", "+"))
}

// readBody reads a request body up to the limit; it answers the error
// itself and returns ok false.
func (s *Server) readBody(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			jsonError(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", mbe.Limit))
			return nil, false
		}
		jsonError(c, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	return body, true
}

// importDoc is PUT: by Content-Type, plain text or Markdown replaces the
// content of the field (see render.ImportText and ImportMarkdown), a Yjs
// update is merged into the document. All go through the session, so
// connected editors see the change live.
func (s *Server) importDoc(c *gin.Context, name string) {
	mt, _, err := mime.ParseMediaType(c.ContentType())
	if c.ContentType() == "" {
		err = errors.New("missing")
	}
	if err != nil {
		jsonError(c, http.StatusUnsupportedMediaType, "Content-Type must be text/plain, text/markdown or application/octet-stream")
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	field := c.Query("field")
	ctx := c.Request.Context()
	switch mt {
	case "text/plain", "text/markdown", "text/x-markdown":
		md := mt != "text/plain"
		var importErr error
		err = s.hub.Edit(ctx, name, func(doc *crdt.Doc) error {
			if md {
				importErr = render.ImportMarkdown(doc, field, string(body))
			} else {
				importErr = render.ImportText(doc, field, string(body))
			}
			return nil
		})
		if err == nil && importErr != nil {
			switch {
			case errors.Is(importErr, render.ErrUnsupported):
				jsonError(c, http.StatusUnprocessableEntity, importErr.Error())
			default:
				s.fail(c, importErr)
			}
			return
		}
	case "application/octet-stream", "application/x-yjs-update", "application/vnd.yjs.update":
		if !s.applyUpdate(c, name, body) {
			return
		}
	default:
		jsonError(c, http.StatusUnsupportedMediaType, fmt.Sprintf("cannot import %s (want text/plain, text/markdown or application/octet-stream)", mt))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	info, err := s.hub.Info(ctx, name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, info)
}

// postUpdate applies a binary v1 update.
func (s *Server) postUpdate(c *gin.Context, name string) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	if s.applyUpdate(c, name, body) {
		c.Status(http.StatusNoContent)
	}
}

func (s *Server) applyUpdate(c *gin.Context, name string, update []byte) bool {
	err := s.hub.Apply(c.Request.Context(), name, update)
	if errors.Is(err, crdt.ErrMalformed) {
		jsonError(c, http.StatusBadRequest, "not a Yjs v1 update: "+err.Error())
		return false
	}
	if err != nil {
		s.fail(c, err)
		return false
	}
	return true
}
