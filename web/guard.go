package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	gosync "sync"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/quirehq/quire/sync"
)

// Defaults of the connection limits.
const (
	DefaultMaxConns      = 50000
	DefaultMaxConnsPerIP = 500
)

// Error kinds the web layer counts in quire_errors_total, next to sync's.
const (
	ErrKindConnLimit   = "conn_limit"    // a WebSocket refused: --max-conns reached
	ErrKindConnLimitIP = "conn_limit_ip" // a WebSocket refused: --max-conns-per-ip reached
	ErrKindAuth        = "unauthorized"  // a request without a valid token (401)
	ErrKindForbidden   = "forbidden"     // a valid token that does not allow the request (403)
	ErrKindOrigin      = "bad_origin"    // a browser request from an origin not allowed (403)
)

// ---- origins and CORS

// ParseOrigins reads a comma-separated list of allowed origins
// ("https://app.example.com, http://localhost:5173", or "*"), as
// scheme://host[:port] each; an empty list means same-origin only.
func ParseOrigins(list string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("origin %q: want scheme://host[:port] (http or https), or *", o)
		}
		out = append(out, normOrigin(o))
	}
	return out, nil
}

func normOrigin(o string) string { return strings.ToLower(strings.TrimSuffix(o, "/")) }

// originPolicy decides which browser origins may use the server.
type originPolicy struct {
	any     bool
	allowed map[string]bool
}

func newOriginPolicy(list []string) *originPolicy {
	p := &originPolicy{allowed: map[string]bool{}}
	for _, o := range list {
		if o == "*" {
			p.any = true
		}
		p.allowed[normOrigin(o)] = true
	}
	return p
}

// allow reports whether a request may proceed: it has no Origin header (not
// a browser, or a same-origin GET), its origin is the server's own (the
// Origin's host is the request's Host), or its origin is listed.
func (p *originPolicy) allow(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || p.any {
		return true
	}
	if p.allowed[normOrigin(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// cors is the middleware of the REST API: a browser request from an
// origin not allowed is refused with 403; an allowed one gets the CORS
// headers, and a preflight (OPTIONS) its answer.
func (s *Server) cors(c *gin.Context) {
	c.Writer.Header().Add("Vary", "Origin")
	origin := c.GetHeader("Origin")
	if !s.origins.allow(c.Request) {
		s.countError(ErrKindOrigin)
		s.refusals.Warn().Str("origin", origin).Str("path", c.Request.URL.EscapedPath()).Msg("request from an origin not allowed; refused")
		jsonError(c, http.StatusForbidden, "origin not allowed: "+origin)
		return
	}
	if origin != "" {
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		if c.Request.Method == http.MethodOptions {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
		}
	}
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// ---- authentication

const grantKey = "quire.grant"

// authenticate is the middleware of the REST API and the admin page: with
// authentication on, a request without a valid token is answered 401 and
// the grant of a valid one is kept for the handler. Without it, it does
// nothing.
func (s *Server) authenticate(c *gin.Context) {
	if s.auth == nil {
		return
	}
	g, err := s.auth.Verify(c.Request)
	if err != nil {
		s.unauthorized(c, err)
		return
	}
	c.Set(grantKey, g)
	c.Next()
}

func (s *Server) unauthorized(c *gin.Context, err error) {
	s.countError(ErrKindAuth)
	s.refusals.Info().Str("path", c.Request.URL.EscapedPath()).Str("remote", c.ClientIP()).Err(err).Msg("unauthenticated request refused")
	c.Header("WWW-Authenticate", `Bearer realm="quire"`)
	jsonError(c, http.StatusUnauthorized, err.Error())
}

func (s *Server) forbidden(c *gin.Context, msg string) {
	s.countError(ErrKindForbidden)
	jsonError(c, http.StatusForbidden, msg)
}

// grant returns the request's grant, nil when authentication is off.
func grantOf(c *gin.Context) *Grant {
	if v, ok := c.Get(grantKey); ok {
		return v.(*Grant)
	}
	return nil
}

// access is what a request may do to a document.
type access int

const (
	accessRead access = iota
	accessWrite
	accessAdmin
)

// permit checks the request's grant for acc on document name (name ""
// for server-wide calls); it answers 403 itself and returns false.
func (s *Server) permit(c *gin.Context, name string, acc access) bool {
	if s.auth == nil {
		return true
	}
	g := grantOf(c)
	switch {
	case g == nil: // not reached: authenticate ran
		s.unauthorized(c, errNoToken)
		return false
	case g.Admin():
		return true
	case acc == accessAdmin:
		s.forbidden(c, "this needs an admin token")
		return false
	case !g.CanRead(name):
		s.forbidden(c, fmt.Sprintf("the token does not open document %q", name))
		return false
	case acc == accessWrite && !g.CanWrite(name):
		s.forbidden(c, fmt.Sprintf("the token is read-only for document %q", name))
		return false
	}
	return true
}

// adminPage guards the dashboard: with authentication on, GET /admin
// needs an admin token (?token= on the page's URL, which the page passes
// on to its own requests).
func (s *Server) adminPage(c *gin.Context) {
	if c.Request.URL.Path != "/admin" {
		return
	}
	s.requireAdmin(c, "the dashboard needs an admin token")
}

// metricsGuard: with authentication on, /metrics on the main address
// needs an admin token (serve it unauthenticated on a separate, private
// address with MetricsHandler instead).
func (s *Server) metricsGuard(c *gin.Context) {
	s.requireAdmin(c, "metrics need an admin token")
}

// requireAdmin lets the request on only with an admin token when
// authentication is on; otherwise it answers 401 or 403 (refusal).
func (s *Server) requireAdmin(c *gin.Context, refusal string) {
	if s.auth == nil {
		return
	}
	g, err := s.auth.Verify(c.Request)
	if err != nil {
		s.unauthorized(c, err)
		return
	}
	if !g.Admin() {
		s.forbidden(c, refusal)
		return
	}
	c.Next()
}

// ---- connection limits

// connLimiter counts WebSocket connections, in all and by client address.
type connLimiter struct {
	max, perIP int // <= 0: no limit

	mu    gosync.Mutex
	total int
	byIP  map[string]int
}

// acquire takes a place for a connection from ip; it returns the error
// kind of the limit reached, or "" and the release function.
func (l *connLimiter) acquire(ip string) (func(), string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return nil, ErrKindConnLimit
	}
	if l.perIP > 0 && l.byIP[ip] >= l.perIP {
		return nil, ErrKindConnLimitIP
	}
	l.total++
	l.byIP[ip]++
	var once gosync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.byIP[ip]--; l.byIP[ip] <= 0 {
				delete(l.byIP, ip)
			}
		})
	}, ""
}

// ipKey is the address a connection is counted under: the IP, and for
// IPv6 its /64 (one host usually has a whole /64).
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ---- document names

// checkName applies the server's naming rules on top of sync.ValidName:
// at most MaxNameLen bytes, no C1 control characters, no bidirectional
// controls or line/paragraph separators or byte order marks (which make a
// name display as something it is not), no leading or trailing white
// space, and no "." or ".." path segment (browsers remove those from
// WebSocket URLs, so such a document could not be opened by its name).
func (s *Server) checkName(name string) error {
	if err := sync.ValidName(name); err != nil {
		return err
	}
	if len(name) > s.cfg.MaxNameLen {
		return fmt.Errorf("%w: %d bytes (the limit is %d)", sync.ErrInvalidName, len(name), s.cfg.MaxNameLen)
	}
	for _, r := range name {
		switch {
		case r >= 0x80 && r <= 0x9f:
			return fmt.Errorf("%w: control character %U", sync.ErrInvalidName, r)
		case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
			r == 0x2028, r == 0x2029, r == 0xfeff:
			return fmt.Errorf("%w: invisible formatting character %U", sync.ErrInvalidName, r)
		}
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return fmt.Errorf("%w: leading or trailing white space", sync.ErrInvalidName)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%w: a %q path segment", sync.ErrInvalidName, seg)
		}
	}
	return nil
}

func (s *Server) countError(kind string) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Error(kind)
	}
}
