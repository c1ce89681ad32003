package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
	"github.com/quirehq/quire/sync"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

// newEnvCfg is newEnv with a Config the test adjusts.
func newEnvCfg(t *testing.T, adjust func(*Config)) *env {
	t.Helper()
	base := goroutines()
	m := NewMetrics()
	hub := sync.NewHub(sync.Config{Store: storage.NewMemory(), Metrics: m, Grace: 50 * time.Millisecond})
	cfg := Config{Hub: hub, Metrics: m, MaxBodyBytes: 1 << 20, Log: testLog(t)}
	if adjust != nil {
		adjust(&cfg)
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Close(ctx); err != nil {
			t.Error(err)
		}
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
		deadline := time.Now().Add(3 * time.Second)
		for goroutines() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("goroutine leak: %d > %d\n%s", goroutines(), base, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return &env{t: t, srv: srv, hub: hub}
}

// req is e.do with request headers.
func (e *env) req(method, path string, hdr map[string]string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	r, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// tryDial opens a WebSocket, returning the handshake's status and body
// when it is refused.
func (e *env) tryDial(path string, hdr http.Header) (*websocket.Conn, int, string) {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
	c, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		if resp == nil {
			e.t.Fatalf("dial %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, string(b)
	}
	e.t.Cleanup(func() { c.Close() })
	return c, http.StatusSwitchingProtocols, ""
}

// keys generated once: RSA generation is slow under the race detector.
var testKeys = gosync.OnceValue(func() (k struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func pemPublic(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claims builds a token's claims; exp is relative to now (0: none).
func claims(docs []string, mode string, admin bool, exp time.Duration) jwt.MapClaims {
	c := jwt.MapClaims{}
	if docs != nil {
		c["docs"] = docs
	}
	if mode != "" {
		c["mode"] = mode
	}
	if admin {
		c["admin"] = true
	}
	if exp != 0 {
		c["exp"] = time.Now().Add(exp).Unix()
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hs(t *testing.T, c jwt.Claims) string {
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c)
}

// TestVerifyToken: each kind of key verifies its own algorithms and
// nothing else.
func TestVerifyToken(t *testing.T) {
	k := testKeys()
	rsaPEM, ecPEM, edPEM := pemPublic(t, &k.rsa.PublicKey), pemPublic(t, &k.ec.PublicKey), pemPublic(t, k.ed.Public())
	mk := func(cfg AuthConfig) *Auth {
		a, err := NewAuth(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	hsAuth := mk(AuthConfig{Secret: []byte(testSecret)})
	rsAuth := mk(AuthConfig{PublicKeyPEM: rsaPEM})
	esAuth := mk(AuthConfig{PublicKeyPEM: ecPEM})
	edAuth := mk(AuthConfig{PublicKeyPEM: edPEM})
	bothAuth := mk(AuthConfig{Secret: []byte(testSecret), PublicKeyPEM: edPEM})
	audAuth := mk(AuthConfig{Secret: []byte(testSecret), Audience: "quire", Issuer: "https://id.example"})

	ok := claims([]string{"a"}, "write", false, time.Hour)
	unsigned := func(c jwt.Claims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	tests := []struct {
		name  string
		auth  *Auth
		token string
		valid bool
	}{
		{"HS256", hsAuth, hs(t, ok), true},
		{"HS512", hsAuth, sign(t, jwt.SigningMethodHS512, []byte(testSecret), ok), true},
		{"RS256", rsAuth, sign(t, jwt.SigningMethodRS256, k.rsa, ok), true},
		{"ES256", esAuth, sign(t, jwt.SigningMethodES256, k.ec, ok), true},
		{"EdDSA", edAuth, sign(t, jwt.SigningMethodEdDSA, k.ed, ok), true},
		{"secret and key: HS256", bothAuth, hs(t, ok), true},
		{"secret and key: EdDSA", bothAuth, sign(t, jwt.SigningMethodEdDSA, k.ed, ok), true},
		{"audience and issuer", audAuth, hs(t, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "aud": "quire", "iss": "https://id.example", "docs": "a", "mode": "write"}), true},

		{"expired", hsAuth, hs(t, claims([]string{"a"}, "", false, -time.Minute)), false},
		{"no exp", hsAuth, hs(t, claims([]string{"a"}, "", false, 0)), false},
		{"not yet valid", hsAuth, hs(t, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "nbf": time.Now().Add(time.Minute).Unix()}), false},
		{"wrong secret", hsAuth, sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), ok), false},
		{"alg none", hsAuth, unsigned(ok), false},
		{"alg none on a key", edAuth, unsigned(ok), false},
		{"RS256 on a secret", hsAuth, sign(t, jwt.SigningMethodRS256, k.rsa, ok), false},
		{"HS256 on a public key", rsAuth, hs(t, ok), false},
		// The algorithm-confusion attack: an HMAC token whose secret is
		// the server's public key.
		{"HS256 keyed with the public key", rsAuth, sign(t, jwt.SigningMethodHS256, rsaPEM, ok), false},
		{"HS256 keyed with the public key, secret too", bothAuth, sign(t, jwt.SigningMethodHS256, edPEM, ok), false},
		{"RS256 of another key", rsAuth, sign(t, jwt.SigningMethodRS256, otherRSA, ok), false},
		{"PS256 on an RSA key", rsAuth, sign(t, jwt.SigningMethodPS256, k.rsa, ok), false},
		{"EdDSA on an RSA key", rsAuth, sign(t, jwt.SigningMethodEdDSA, k.ed, ok), false},
		{"bad mode", hsAuth, hs(t, claims([]string{"a"}, "rw", false, time.Hour)), false},
		{"garbage", hsAuth, "not.a.token", false},
		{"wrong audience", audAuth, hs(t, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "aud": "other", "iss": "https://id.example"}), false},
		{"no issuer", audAuth, hs(t, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "aud": "quire"}), false},
		{"docs not strings", hsAuth, hs(t, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "docs": []int{1}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := tt.auth.VerifyToken(tt.token)
			if tt.valid && (err != nil || !g.CanWrite("a")) {
				t.Fatalf("refused: %v", err)
			}
			if !tt.valid && err == nil {
				t.Fatalf("accepted: %+v", g)
			}
		})
	}
	// A single string is a one-element docs list; no mode is read.
	g, err := hsAuth.VerifyToken(hs(t, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "docs": "solo"}))
	if err != nil || !g.CanRead("solo") || g.CanWrite("solo") || g.CanRead("other") || g.Admin() {
		t.Fatalf("docs string: %v %+v", err, g)
	}
}

func TestNewAuthErrors(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKCS8PrivateKey(testKeys().ed)
	tests := []struct {
		name string
		cfg  AuthConfig
		want string
	}{
		{"nothing", AuthConfig{}, "neither"},
		{"short secret", AuthConfig{Secret: []byte("short")}, "at least 32"},
		{"not PEM", AuthConfig{PublicKeyPEM: []byte("hello")}, "no PEM"},
		{"private key", AuthConfig{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}, "private key"},
		{"small RSA", AuthConfig{PublicKeyPEM: pemPublic(t, &small.PublicKey)}, "2048"},
		{"bad DER", AuthConfig{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2}})}, "public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAuth(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestMatchDoc(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"notes", "notes", true},
		{"notes", "notes2", false},
		{"team-a/*", "team-a/plan", true},
		{"team-a/*", "team-a/sub/plan", false}, // * does not cross /
		{"team-a/*", "team-a", false},
		{"team-a/*", "team-b/plan", false},
		{"*", "plan", true},
		{"*", "team-a/plan", false},
		{"**", "team-a/sub/plan", true},
		{"**", "x", true},
		{"team-a/**", "team-a/plan", true},
		{"team-a/**", "team-a/sub/plan", true},
		{"team-a/**", "team-a", false},
		{"team-a/**", "team-ab/plan", false},
		{"team-*/**", "team-c/x/y", true},
		{"a/**/b", "a/x/y/b", false}, // ** inside is path.Match's, like *
		{"doc-?", "doc-1", true},
		{"doc-[0-9]", "doc-x", false},
		{"[", "[", false}, // malformed: matches nothing
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
	}
	for _, tt := range tests {
		if got := matchDoc(tt.pattern, tt.name); got != tt.want {
			t.Errorf("matchDoc(%q, %q) = %v", tt.pattern, tt.name, got)
		}
	}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// TestAuthREST: who may do what over REST.
func TestAuthREST(t *testing.T) {
	a, err := NewAuth(AuthConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvCfg(t, func(c *Config) { c.Auth = a })
	admin := hs(t, claims(nil, "", true, time.Hour))
	for _, name := range []string{"team-a%2Fplan", "team-a%2Fsub%2Fdeep", "team-b%2Fplan", "solo"} {
		if status, _, body := e.req("PUT", "/api/v1/docs/"+name, map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "text/plain"}, []byte("x")); status != 200 {
			t.Fatalf("seeding %s: %d %s", name, status, body)
		}
	}
	reader := hs(t, claims([]string{"team-a/*", "solo"}, "", false, time.Hour))
	writer := hs(t, claims([]string{"team-a/*"}, "write", false, time.Hour))
	deep := hs(t, claims([]string{"team-a/**"}, "read", false, time.Hour))
	all := hs(t, claims([]string{"**"}, "write", false, time.Hour))
	expired := hs(t, claims([]string{"**"}, "write", true, -time.Second))
	update := func() []byte {
		d := crdt.NewDoc(crdt.Options{ClientID: 77})
		var u []byte
		d.OnUpdate(func(b []byte) { u = b })
		_ = d.Map("m").Set("k", "v")
		return u
	}()
	tests := []struct {
		name, token, method, path string
		status                    int
	}{
		{"no token", "", "GET", "/api/v1/docs/solo", 401},
		{"no token on the list", "", "GET", "/api/v1/docs", 401},
		{"expired", expired, "GET", "/api/v1/docs/solo", 401},
		{"garbage", "xyz", "GET", "/api/v1/docs/solo", 401},
		{"read allowed", reader, "GET", "/api/v1/docs/team-a%2Fplan", 200},
		{"export allowed", reader, "GET", "/api/v1/docs/team-a%2Fplan/export?format=text", 200},
		{"exact name", reader, "GET", "/api/v1/docs/solo", 200},
		{"other team", reader, "GET", "/api/v1/docs/team-b%2Fplan", 403},
		{"other team export", reader, "GET", "/api/v1/docs/team-b%2Fplan/export", 403},
		{"* does not cross /", reader, "GET", "/api/v1/docs/team-a%2Fsub%2Fdeep", 403},
		{"/** does", deep, "GET", "/api/v1/docs/team-a%2Fsub%2Fdeep", 200},
		{"** is everything", all, "GET", "/api/v1/docs/team-b%2Fplan", 200},
		{"read-only PUT", reader, "PUT", "/api/v1/docs/team-a%2Fplan", 403},
		{"read-only POST update", reader, "POST", "/api/v1/docs/team-a%2Fplan/updates", 403},
		{"writer PUT", writer, "PUT", "/api/v1/docs/team-a%2Fplan", 200},
		{"writer POST update", writer, "POST", "/api/v1/docs/team-a%2Fplan/updates", 204},
		{"writer, other doc", writer, "PUT", "/api/v1/docs/team-b%2Fplan", 403},
		{"writer cannot delete", writer, "DELETE", "/api/v1/docs/team-a%2Fplan", 403},
		{"writer cannot compact", writer, "POST", "/api/v1/docs/team-a%2Fplan/compact", 403},
		{"** cannot delete", all, "DELETE", "/api/v1/docs/team-a%2Fplan", 403},
		{"admin compacts", admin, "POST", "/api/v1/docs/team-a%2Fplan/compact", 200},
		{"admin deletes", admin, "DELETE", "/api/v1/docs/team-b%2Fplan", 204},
		{"query token", "?" + reader, "GET", "/api/v1/docs/solo", 200},
		{"dashboard without token", "", "GET", "/admin", 401},
		{"dashboard, not admin", reader, "GET", "/admin", 403},
		{"dashboard, admin", "?" + admin, "GET", "/admin", 200},
		{"metrics without token", "", "GET", "/metrics", 401},
		{"metrics, not admin", all, "GET", "/metrics", 403},
		{"metrics, admin", admin, "GET", "/metrics", 200},
		{"healthz open", "", "GET", "/healthz", 200},
		{"readyz open", "", "GET", "/readyz", 200},
		{"pages open", "", "GET", "/d/solo", 200},
		{"index open", "", "GET", "/", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, hub: e.hub}
			hdr := map[string]string{}
			path := tt.path
			switch {
			case strings.HasPrefix(tt.token, "?"):
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				path += sep + "token=" + tt.token[1:]
			case tt.token != "":
				hdr = bearer(tt.token)
			}
			var body []byte
			switch tt.method {
			case "PUT":
				hdr["Content-Type"] = "text/plain"
				body = []byte("new text")
			case "POST":
				hdr["Content-Type"] = "application/octet-stream"
				body = update
			}
			status, h, b := e.req(tt.method, path, hdr, body)
			if status != tt.status {
				t.Fatalf("%d %s, want %d", status, b, tt.status)
			}
			if status >= 400 {
				var eb errorBody
				if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
					t.Errorf("not a JSON error: %s", b)
				}
			}
			if status == 401 && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// The list is filtered to the token's documents, whole for an admin.
	names := func(tok string) []string {
		status, _, b := e.req("GET", "/api/v1/docs", bearer(tok), nil)
		var l listBody
		if status != 200 || json.Unmarshal(b, &l) != nil {
			t.Fatalf("list: %d %s", status, b)
		}
		var out []string
		for _, d := range l.Docs {
			out = append(out, d.Name)
		}
		return out
	}
	if got := fmt.Sprint(names(reader)); got != "[solo team-a/plan]" {
		t.Errorf("reader's list: %s", got)
	}
	if got := fmt.Sprint(names(deep)); got != "[team-a/plan team-a/sub/deep]" {
		t.Errorf("deep reader's list: %s", got)
	}
	if got := fmt.Sprint(names(admin)); got != "[solo team-a/plan team-a/sub/deep]" { // team-b/plan deleted
		t.Errorf("admin's list: %s", got)
	}
	if got := names(hs(t, claims(nil, "write", false, time.Hour))); len(got) != 0 {
		t.Errorf("no docs claim lists %v", got)
	}
	// Refusals are counted.
	_, _, b := e.req("GET", "/metrics", bearer(admin), nil)
	for _, want := range []string{`quire_errors_total{kind="unauthorized"}`, `quire_errors_total{kind="forbidden"}`} {
		if !strings.Contains(string(b), want) || strings.Contains(string(b), want+" 0\n") {
			t.Errorf("metrics: %s not counted", want)
		}
	}
}

// TestAuthWebSocket: tokens on the WebSocket, read-only peers, expiry.
func TestAuthWebSocket(t *testing.T) {
	a, err := NewAuth(AuthConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvCfg(t, func(c *Config) { c.Auth = a })
	reader := hs(t, claims([]string{"team-a/*"}, "read", false, time.Hour))
	writer := hs(t, claims([]string{"team-a/*"}, "write", false, time.Hour))
	refusals := []struct {
		name, path string
		hdr        http.Header
		status     int
	}{
		{"no token", "/ws/team-a/x", nil, 401},
		{"bad token", "/ws/team-a/x?token=abc", nil, 401},
		{"expired", "/ws/team-a/x?token=" + hs(t, claims([]string{"**"}, "write", false, -time.Second)), nil, 401},
		{"other doc", "/ws/team-b/x?token=" + writer, nil, 403},
		{"not across /", "/ws/team-a/x/y?token=" + writer, nil, 403},
		{"bearer, other doc", "/ws/team-b/x", http.Header{"Authorization": {"Bearer " + writer}}, 403},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, hub: e.hub}
			_, status, body := e.tryDial(tt.path, tt.hdr)
			var eb errorBody
			if status != tt.status || json.Unmarshal([]byte(body), &eb) != nil || eb.Error == "" {
				t.Errorf("%d %s, want %d and a JSON error", status, body, tt.status)
			}
		})
	}
	if _, status, body := e.tryDial("/ws/team-a/x", http.Header{"Authorization": {"Bearer " + writer}}); status != 101 {
		t.Fatalf("bearer on the upgrade: %d %s", status, body)
	}

	// A read-only peer syncs but its update is refused with an auth
	// message and not applied.
	c, status, body := e.tryDial("/ws/team-a/ro?token="+reader, nil)
	if status != 101 {
		t.Fatalf("reader: %d %s", status, body)
	}
	w := &wsClient{t: t, c: c, doc: crdt.NewDoc(crdt.Options{})}
	w.doc.OnUpdate(func(u []byte) { w.ups = append(w.ups, u) })
	if m := w.next(); m.Type != sync.MsgSync || m.Sync != sync.SyncStep1 {
		t.Fatalf("first message %+v", m)
	}
	_ = w.doc.Text("t").Insert(0, "not allowed", nil)
	w.send(sync.EncodeSyncUpdate(w.ups[0]))
	for {
		m := w.next()
		if m.Type == sync.MsgAuth {
			if m.Auth != 0 {
				t.Fatalf("auth message %+v, want permission denied", m)
			}
			break
		}
		if m.Type == sync.MsgSync && m.Sync == sync.SyncUpdate {
			t.Fatal("read-only update echoed")
		}
	}
	admin := hs(t, claims(nil, "", true, time.Hour))
	if status, _, body := e.req("GET", "/api/v1/docs/team-a%2Fro/export?format=text&field=t", bearer(admin), nil); status == 200 && len(body) > 0 {
		t.Fatalf("read-only update applied: %q", body)
	}

	// A writer's update is applied and echoed.
	c, status, body = e.tryDial("/ws/team-a/rw?token="+writer, nil)
	if status != 101 {
		t.Fatalf("writer: %d %s", status, body)
	}
	w = &wsClient{t: t, c: c, doc: crdt.NewDoc(crdt.Options{})}
	w.doc.OnUpdate(func(u []byte) { w.ups = append(w.ups, u) })
	_ = w.doc.Text("t").Insert(0, "allowed", nil)
	w.send(sync.EncodeSyncUpdate(w.ups[0]))
	for {
		m := w.next()
		if m.Type == sync.MsgAuth {
			t.Fatalf("writer refused: %q", m.Payload)
		}
		if m.Type == sync.MsgSync && m.Sync == sync.SyncUpdate {
			break
		}
	}

	// A token that lapses while connected closes the peer with 4401.
	soon := hs(t, jwt.MapClaims{"docs": []string{"team-a/*"}, "exp": time.Now().Add(1500*time.Millisecond).Unix() + 1})
	c, status, body = e.tryDial("/ws/team-a/exp?token="+soon, nil)
	if status != 101 {
		t.Fatalf("expiring token: %d %s", status, body)
	}
	w = &wsClient{t: t, c: c}
	if code := w.closeCode(); code != sync.CloseAuthExpired {
		t.Errorf("closed with %d, want %d", code, sync.CloseAuthExpired)
	}
}

// TestOpenModeWarning: without authentication the server says so.
func TestOpenModeWarning(t *testing.T) {
	for _, on := range []bool{false, true} {
		var buf bytes.Buffer
		log := zerolog.New(&buf)
		hub := sync.NewHub(sync.Config{Store: storage.NewMemory()})
		cfg := Config{Hub: hub, Log: &log}
		if on {
			cfg.Auth, _ = NewAuth(AuthConfig{Secret: []byte(testSecret)})
		}
		New(cfg)
		_ = hub.Close(context.Background())
		if got := strings.Contains(buf.String(), "authentication is off"); got == on {
			t.Errorf("auth %v: warning logged %v: %s", on, got, buf.String())
		}
		if !on && !strings.Contains(buf.String(), `"level":"warn"`) {
			t.Errorf("the warning is not at warn level: %s", buf.String())
		}
	}
}

// TestOrigins: browser WebSockets and REST calls from other origins are
// refused unless allowed; CORS answers for the allowed ones.
func TestOrigins(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"no Origin (not a browser)", nil, "", true},
		{"same origin", nil, "SELF", true},
		{"other origin, default", nil, "https://evil.example", false},
		{"null origin, default", nil, "null", false},
		{"listed", []string{"https://app.example"}, "https://app.example", true},
		{"listed, case", []string{"https://app.example"}, "https://APP.example", true},
		{"listed, same origin still allowed", []string{"https://app.example"}, "SELF", true},
		{"not listed", []string{"https://app.example"}, "https://app.example:8443", false},
		{"not listed, scheme", []string{"https://app.example"}, "http://app.example", false},
		{"any", []string{"*"}, "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvCfg(t, func(c *Config) { c.AllowedOrigins = tt.allowed })
			origin := tt.origin
			if origin == "SELF" {
				origin = e.srv.URL
			}
			var hdr http.Header
			if origin != "" {
				hdr = http.Header{"Origin": {origin}}
			}
			_, status, body := e.tryDial("/ws/o", hdr)
			if want := map[bool]int{true: 101, false: 403}[tt.ok]; status != want {
				t.Errorf("WebSocket: %d %s, want %d", status, body, want)
			}
			rh := map[string]string{}
			if origin != "" {
				rh["Origin"] = origin
			}
			status, h, b := e.req("GET", "/api/v1/docs", rh, nil)
			if want := map[bool]int{true: 200, false: 403}[tt.ok]; status != want {
				t.Errorf("REST: %d %s, want %d", status, b, want)
			}
			if got := h.Get("Access-Control-Allow-Origin"); tt.ok && origin != "" && got != origin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, origin)
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("no Vary: Origin")
			}
			if origin == "" {
				return
			}
			// The preflight of a cross-origin PUT with a token.
			status, h, _ = e.req("OPTIONS", "/api/v1/docs/o", map[string]string{"Origin": origin,
				"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization, content-type"}, nil)
			if !tt.ok {
				if status != 403 {
					t.Errorf("preflight from a refused origin: %d", status)
				}
				return
			}
			if status != 204 || h.Get("Access-Control-Allow-Origin") != origin ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
				t.Errorf("preflight: %d %v", status, h)
			}
		})
	}
	if _, err := ParseOrigins("https://a.example, http://localhost:5173/ ,*"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"a.example", "ftp://a.example", "https://a.example/path", "https://"} {
		if _, err := ParseOrigins(bad); err == nil {
			t.Errorf("ParseOrigins(%q) accepted", bad)
		}
	}
}

// TestConnLimits: the total and per-address WebSocket limits answer 503
// before the upgrade, are counted, and free up when connections end.
func TestConnLimits(t *testing.T) {
	t.Run("total", func(t *testing.T) {
		e := newEnvCfg(t, func(c *Config) { c.MaxConns = 2; c.MaxConnsPerIP = -1 })
		c1, s1, _ := e.tryDial("/ws/a", nil)
		_, s2, _ := e.tryDial("/ws/b", nil)
		_, s3, body := e.tryDial("/ws/c", nil)
		if s1 != 101 || s2 != 101 || s3 != 503 || !strings.Contains(body, "too many connections") {
			t.Fatalf("statuses %d %d %d %s", s1, s2, s3, body)
		}
		c1.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, s, _ := e.tryDial("/ws/c", nil); s == 101 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the place of a closed connection was not freed")
			}
			time.Sleep(20 * time.Millisecond)
		}
		_, _, m := e.do("GET", "/metrics", "", nil)
		if !strings.Contains(string(m), `quire_errors_total{kind="conn_limit"} `) || strings.Contains(string(m), `quire_errors_total{kind="conn_limit"} 0`) {
			t.Error("refusal not counted")
		}
	})
	t.Run("per address", func(t *testing.T) {
		e := newEnvCfg(t, func(c *Config) {
			c.MaxConnsPerIP = 1
			c.TrustedProxies = []string{"127.0.0.1"}
		})
		if _, s, _ := e.tryDial("/ws/a", nil); s != 101 {
			t.Fatal(s)
		}
		if _, s, body := e.tryDial("/ws/a", nil); s != 503 || !strings.Contains(body, "your address") {
			t.Fatalf("second from one address: %d %s", s, body)
		}
		// Through a trusted proxy, the forwarded address counts.
		if _, s, _ := e.tryDial("/ws/a", http.Header{"X-Forwarded-For": {"203.0.113.7"}}); s != 101 {
			t.Fatalf("another client through the proxy: %d", s)
		}
		if _, s, _ := e.tryDial("/ws/a", http.Header{"X-Forwarded-For": {"203.0.113.7"}}); s != 503 {
			t.Fatalf("that client again: %d", s)
		}
		_, _, m := e.do("GET", "/metrics", "", nil)
		if !strings.Contains(string(m), `quire_errors_total{kind="conn_limit_ip"} 2`) {
			t.Error("refusals not counted")
		}
	})
	t.Run("untrusted forwarding", func(t *testing.T) {
		e := newEnvCfg(t, func(c *Config) { c.MaxConnsPerIP = 1 })
		e.tryDial("/ws/a", nil)
		if _, s, _ := e.tryDial("/ws/a", http.Header{"X-Forwarded-For": {"203.0.113.8"}}); s != 503 {
			t.Fatalf("X-Forwarded-For from an untrusted peer was believed: %d", s)
		}
	})
	for _, tt := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"junk", "junk"},
	} {
		if got := ipKey(tt.in); got != tt.want {
			t.Errorf("ipKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestNames: the naming rules, over REST and WebSocket; names the tests
// and pages use stay accepted.
func TestNames(t *testing.T) {
	e := newEnvCfg(t, func(c *Config) { c.MaxNameLen = 40 })
	tests := []struct {
		name string
		ok   bool
	}{
		{"notes/today", true},
		{"phone doc", true},
		{"notes.txt", true},
		{"offline notes", true},
		{"team/plans", true},
		{"100%", true},
		{"héllo wörld", true},
		{"👩‍💻 notes", true}, // a zero-width joiner inside an emoji
		{"a..b", true},
		{".hidden", true},
		{strings.Repeat("x", 40), true},
		{strings.Repeat("x", 41), false},
		{"a/../b", false},
		{"..", false},
		{".", false},
		{"a/.", false},
		{" lead", false},
		{"trail ", false},
		{"tab\there", false},
		{"nbsp\u00a0", false},
		{"c1\u0085", false},
		{"bidi\u202egnp.exe", false},
		{"iso\u2066x", false},
		{"bom\ufeff", false},
		{"line\u2028sep", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, hub: e.hub}
			seg := strings.ReplaceAll(pathEscape(tt.name), "/", "%2F")
			status, _, body := e.do("PUT", "/api/v1/docs/"+seg, "text/plain", []byte("x"))
			if tt.ok != (status == 200) || (!tt.ok && status != 400) {
				t.Errorf("PUT: %d %s", status, body)
			}
			_, status, wsBody := e.tryDial("/ws/"+pathEscape(tt.name), nil)
			if tt.ok != (status == 101) || (!tt.ok && (status != 400 || !strings.Contains(wsBody, "invalid document name"))) {
				t.Errorf("WebSocket: %d %s", status, wsBody)
			}
		})
	}
	// A document stored under a name the rules now refuse can still be
	// deleted.
	if err := e.hub.Edit(context.Background(), " legacy", func(d *crdt.Doc) error { return d.Text("t").Insert(0, "x", nil) }); err != nil {
		t.Fatal(err)
	}
	if status, _, body := e.do("GET", "/api/v1/docs/%20legacy", "", nil); status != 400 {
		t.Errorf("GET legacy: %d %s", status, body)
	}
	if status, _, body := e.do("DELETE", "/api/v1/docs/%20legacy", "", nil); status != 204 {
		t.Errorf("DELETE legacy: %d %s", status, body)
	}
}

// pathEscape percent-encodes everything but unreserved characters and /.
func pathEscape(s string) string {
	var sb strings.Builder
	for _, b := range []byte(s) {
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', strings.IndexByte("-._~/", b) >= 0:
			sb.WriteByte(b)
		default:
			fmt.Fprintf(&sb, "%%%02X", b)
		}
	}
	return sb.String()
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err    error
		status int
	}{
		{sync.ErrBusy, 503},
		{fmt.Errorf("loading: %w", sync.ErrBusy), 503},
		{sync.ErrDocTooLarge, 413},
		{fmt.Errorf("apply: %w", sync.ErrDocTooLarge), 413},
		{sync.ErrInvalidName, 400},
		{sync.ErrNotFound, 404},
		{sync.ErrClosed, 503},
		{sync.ErrExpired, 401},
		{context.DeadlineExceeded, 503},
		{errors.New("disk on fire"), 500},
	}
	for _, tt := range tests {
		if got := statusOf(tt.err); got != tt.status {
			t.Errorf("statusOf(%v) = %d, want %d", tt.err, got, tt.status)
		}
	}
}
