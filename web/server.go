// Package web is quire's HTTP face: the WebSocket endpoint y-websocket
// clients connect to, the REST API, health and readiness probes,
// Prometheus metrics, and the pages of package ui (the document list, the
// editor, the dashboard).
//
// Handlers are thin: they parse and validate input, call the sync.Hub, and
// render the answer. Every error is JSON, {"error": "..."}, with the status
// that says whose fault it is.
//
// Routes:
//
//	GET    /ws/<name>                             WebSocket (y-websocket protocol)
//	GET    /api/v1/docs                           list documents
//	GET    /api/v1/docs/<name>                    one document's metadata
//	DELETE /api/v1/docs/<name>                    delete (closes its peers with 4410)
//	GET    /api/v1/docs/<name>/export?format=text|markdown|html|json|yjs[&field=F][&sv=B64]
//	PUT    /api/v1/docs/<name>                    import: text/plain, text/markdown, application/octet-stream (a Yjs update)
//	POST   /api/v1/docs/<name>/updates            apply a binary Yjs v1 update
//	POST   /api/v1/docs/<name>/compact            fold the update log into the snapshot now
//	OPTIONS /api/v1/docs[/...]                    CORS preflight
//	GET    /healthz, /readyz, /metrics
//	GET    /, /d/<name>, /admin                   pages (package ui)
//
// # Document names
//
// A WebSocket's document is the path after /ws/, percent-decoded (kept as
// it is if it is not valid percent-encoding); it may contain slashes,
// because the y-websocket client appends "/<room>" to the server URL
// verbatim. In the REST API the name is one path segment, so a slash in a
// name is written %2F there. Query parameters (y-websocket's params) are
// not part of the name.
//
// # Security
//
// With Config.Auth set every WebSocket and /api/v1 request needs a JSON
// Web Token (?token= or Authorization: Bearer; see Auth for the claims):
// none or an invalid one is answered 401, one that does not allow the
// request 403, both before any upgrade. Reads need the document in the
// token's docs, writes mode "write" too, DELETE, compact, /admin and
// /metrics an admin token; the list shows the documents the token opens.
// Browser requests from origins other than the server's own and
// Config.AllowedOrigins are refused with 403 (WebSockets before the
// upgrade; the REST API answers CORS for the allowed ones). WebSockets
// past Config.MaxConns or MaxConnsPerIP are answered 503. Document names
// follow the rules of checkName (400 otherwise).
package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/quirehq/quire/sync"
	"github.com/quirehq/quire/web/ui"
)

// Config configures the HTTP handler.
type Config struct {
	// Hub serves the documents. Required.
	Hub *sync.Hub
	// Metrics is the metrics set the hub reports to; nil disables
	// /metrics.
	Metrics *Metrics
	// Log receives request and connection logs. Default: discard.
	Log *zerolog.Logger
	// WS configures each WebSocket connection (frame limit, keepalive).
	WS sync.WSOptions
	// MaxBodyBytes bounds a REST request body. Default 32 MiB.
	MaxBodyBytes int64

	// Auth verifies tokens; nil runs the server open (anyone who can
	// reach it can read, change and delete every document), which New
	// logs as a warning. See Auth for the claims and the rules.
	Auth *Auth
	// AllowedOrigins are the browser origins (scheme://host[:port], see
	// ParseOrigins) allowed to open WebSockets and call the REST API
	// (CORS); "*" allows any. Requests without an Origin header (not from
	// a browser) and from the server's own origin are always allowed.
	AllowedOrigins []string
	// CheckOrigin, if set, replaces the AllowedOrigins check for
	// WebSockets.
	CheckOrigin func(r *http.Request) bool
	// MaxConns bounds the open WebSocket connections, MaxConnsPerIP those
	// from one client address (an IPv6 /64 counts as one); past them a
	// new one is answered 503 before the upgrade. Zero takes the default
	// (DefaultMaxConns, DefaultMaxConnsPerIP); negative means no limit.
	MaxConns      int
	MaxConnsPerIP int
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For / X-Real-IP name the client (for the per-address
	// limit and the logs). Default none: the peer address is the client.
	TrustedProxies []string
	// MaxNameLen bounds document names, in bytes; zero or more than
	// sync.MaxNameLen takes sync.MaxNameLen.
	MaxNameLen int
}

// DefaultMaxBodyBytes bounds REST bodies.
const DefaultMaxBodyBytes = 32 << 20

// Server is the HTTP handler.
type Server struct {
	cfg      Config
	hub      *sync.Hub
	log      *zerolog.Logger
	refusals *zerolog.Logger // sampled: refusals come in floods
	auth     *Auth
	origins  *originPolicy
	conns    *connLimiter
	upgrader websocket.Upgrader
	engine   *gin.Engine
}

// New returns the handler for cfg; it panics where NewServer returns an
// error.
func New(cfg Config) *Server {
	s, err := NewServer(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// NewServer returns the handler for cfg, or an error for a malformed
// TrustedProxies entry.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Hub == nil {
		panic("web: Config.Hub is nil")
	}
	if cfg.Log == nil {
		nop := zerolog.Nop()
		cfg.Log = &nop
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.MaxNameLen <= 0 || cfg.MaxNameLen > sync.MaxNameLen {
		cfg.MaxNameLen = sync.MaxNameLen
	}
	refusals := cfg.Log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Second})
	s := &Server{
		cfg:      cfg,
		hub:      cfg.Hub,
		log:      cfg.Log,
		refusals: &refusals,
		auth:     cfg.Auth,
		origins:  newOriginPolicy(cfg.AllowedOrigins),
		conns:    &connLimiter{max: cfg.MaxConns, perIP: cfg.MaxConnsPerIP, byIP: map[string]int{}},
		upgrader: websocket.Upgrader{
			// sync.Upgrade frames data itself and brings its own read
			// buffer; gorilla writes only control frames. The pool keeps
			// gorilla from taking net/http's write buffer for each
			// connection for good.
			WriteBufferSize: 4 << 10,
			WriteBufferPool: &gosync.Pool{},
			// The origin is checked before the upgrade (see websocket).
			CheckOrigin: func(*http.Request) bool { return true },
			Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
				writeJSON(w, status, errorBody{reason.Error()})
			},
		},
	}
	if cfg.Auth == nil {
		cfg.Log.Warn().Msg("authentication is off: anyone who can reach this server can read, change and delete every document (set --auth-secret or --auth-public-key)")
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("web: trusted proxies: %w", err)
	}
	e.HandleMethodNotAllowed = true
	e.Use(s.recover, s.logRequests, s.adminPage)
	e.NoRoute(func(c *gin.Context) { jsonError(c, http.StatusNotFound, "no such route") })
	e.NoMethod(func(c *gin.Context) { jsonError(c, http.StatusMethodNotAllowed, "method not allowed") })

	pages().Register(e) // the pages: /, /d/<name>, /admin and their assets
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	if cfg.Metrics != nil {
		cfg.Metrics.observeHub(cfg.Hub)
		e.GET("/metrics", s.metricsGuard, gin.WrapH(cfg.Metrics.Handler()))
	}
	e.GET("/ws/*name", s.websocket)
	api := e.Group("/api/v1", s.cors, s.authenticate)
	api.OPTIONS("/docs")
	api.OPTIONS("/docs/*rest")
	api.GET("/docs", s.list)
	api.GET("/docs/*rest", s.docRoute(http.MethodGet))
	api.PUT("/docs/*rest", s.docRoute(http.MethodPut))
	api.POST("/docs/*rest", s.docRoute(http.MethodPost))
	api.DELETE("/docs/*rest", s.docRoute(http.MethodDelete))
	s.engine = e
	return s, nil
}

// pages is the handler of the embedded pages, made once: making it
// compresses the bundle.
var pages = gosync.OnceValue(ui.New)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

type errorBody struct {
	Error string `json:"error"`
}

func jsonError(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, errorBody{msg})
}

func writeJSON(w http.ResponseWriter, status int, v errorBody) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":` + quoteJSON(v.Error) + "}\n"))
}

func quoteJSON(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20:
			sb.WriteString(`\u00`)
			sb.WriteByte("0123456789abcdef"[r>>4])
			sb.WriteByte("0123456789abcdef"[r&15])
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// recover turns a handler panic into a 500, logged, instead of a dropped
// connection.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error().Interface("panic", v).Str("path", c.Request.URL.Path).Msg("handler panicked")
			if !c.Writer.Written() {
				jsonError(c, http.StatusInternalServerError, "internal error")
			}
		}
	}()
	c.Next()
}

func (s *Server) logRequests(c *gin.Context) {
	t0 := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.httpReqs.WithLabelValues(route, strconv.Itoa(status)).Inc()
	}
	if route == "/ws/*name" || route == "/metrics" || route == "/healthz" || route == "/readyz" {
		return // connections are logged by sync; probes would flood
	}
	ev := s.log.Debug()
	if status >= 500 {
		ev = s.log.Error()
	}
	ev.Str("method", c.Request.Method).Str("path", c.Request.URL.EscapedPath()).Int("status", status).
		Dur("took", time.Since(t0)).Msg("http")
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.hub.Ready(ctx); err != nil {
		jsonError(c, http.StatusServiceUnavailable, err.Error())
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// websocket upgrades GET /ws/<name> and serves the peer until it leaves.
// Everything that can refuse the connection is checked before the upgrade
// and answered with a JSON error: the name (400), the origin (403), the
// token (401, or 403 for a document it does not open) and the connection
// limits (503).
func (s *Server) websocket(c *gin.Context) {
	raw := strings.TrimPrefix(c.Request.URL.EscapedPath(), "/ws/")
	name := decodeName(raw)
	if err := s.checkName(name); err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	if !websocket.IsWebSocketUpgrade(c.Request) {
		jsonError(c, http.StatusBadRequest, "expected a WebSocket upgrade (use a y-websocket client)")
		return
	}
	originOK := s.origins.allow(c.Request)
	if s.cfg.CheckOrigin != nil {
		originOK = s.cfg.CheckOrigin(c.Request)
	}
	if !originOK {
		s.countError(ErrKindOrigin)
		s.refusals.Warn().Str("doc", name).Str("origin", c.GetHeader("Origin")).Str("remote", c.ClientIP()).
			Msg("WebSocket from an origin not allowed; refused")
		jsonError(c, http.StatusForbidden, "origin not allowed: "+c.GetHeader("Origin"))
		return
	}
	var acc sync.Access
	if s.auth != nil {
		g, err := s.auth.Verify(c.Request)
		if err != nil {
			s.unauthorized(c, err)
			return
		}
		if !g.CanRead(name) {
			s.forbidden(c, fmt.Sprintf("the token does not open document %q", name))
			return
		}
		acc = sync.Access{ReadOnly: !g.CanWrite(name), Expires: g.Expires()}
	}
	ip := c.ClientIP()
	release, limit := s.conns.acquire(ipKey(ip))
	if limit != "" {
		s.countError(limit)
		msg := "too many connections"
		if limit == ErrKindConnLimitIP {
			msg = "too many connections from your address"
		}
		s.refusals.Warn().Str("doc", name).Str("remote", ip).Str("limit", limit).Msg(msg + "; WebSocket refused")
		c.Header("Retry-After", "5")
		jsonError(c, http.StatusServiceUnavailable, msg+"; try again later")
		return
	}
	conn, err := sync.Upgrade(s.upgrader, c.Writer, c.Request, s.cfg.WS)
	if err != nil {
		release()
		return // the upgrader has answered
	}
	// The peer joins on a goroutine of its own and the handler returns:
	// net/http keeps the request's buffers and the handler's deep stack
	// alive for as long as the handler runs, several kilobytes per idle
	// connection. Once joined, the peer holds no goroutine while idle
	// (Hub.Attach); release runs when it ends. The request's context ends
	// with the handler, so the peer does not use it; Hub.Close ends peers.
	go func() {
		if err := s.hub.Attach(context.Background(), name, conn, acc, release); err != nil {
			release()
			s.log.Warn().Str("doc", name).Str("remote", ip).Err(err).Msg("peer not served")
		}
	}()
}

// decodeName percent-decodes a document name, keeping it as it is when it
// is not valid percent-encoding (a room called "100%").
func decodeName(raw string) string {
	if name, err := url.PathUnescape(raw); err == nil {
		return name
	}
	return raw
}

// statusOf maps hub errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, sync.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, sync.ErrInvalidName):
		return http.StatusBadRequest
	case errors.Is(err, sync.ErrClosed), errors.Is(err, sync.ErrBusy):
		return http.StatusServiceUnavailable
	case errors.Is(err, sync.ErrDocTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, sync.ErrExpired):
		return http.StatusUnauthorized
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
