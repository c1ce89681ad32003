package web

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Auth verifies the JSON Web Tokens that grant access to documents. The
// zero value is not usable; make one with NewAuth. A nil *Auth means the
// server runs open (no authentication).
//
// # Tokens
//
// A token is an HS256 (HS384, HS512) JWT signed with the shared secret,
// or an RS256 (RS384, RS512), ES256/ES384/ES512 or EdDSA JWT signed with
// the private half of the configured public key. The accepted algorithms
// are pinned to the configured keys: "none" is never accepted, and an
// HMAC token is never checked against a public key (the classic
// algorithm-confusion attack), because the HMAC algorithms are accepted
// only when a secret is configured and are then checked against the
// secret alone.
//
// Claims:
//
//   - exp (required): tokens without it are refused; after it the token is
//     refused (401) and a WebSocket opened with it is closed with 4401.
//     There is no leeway. nbf is honoured when present.
//   - docs: the documents the token opens, as names or path.Match
//     patterns on the (percent-decoded) name: "team-a/*" is every document
//     directly in team-a; "*" never crosses a slash, so "*" alone is every
//     document without a slash in its name. Two extra forms: "**" is every
//     document, and a pattern ending in "/**" ("team-a/**") is everything
//     under that prefix at any depth. A single string is taken as a
//     one-element list. A malformed pattern matches nothing.
//   - mode: "write" lets the holder change the documents; "read" (the
//     default when the claim is absent) only lets it read them and sync
//     (its updates are refused). Any other value makes the token invalid.
//   - admin: true grants everything: every document, write, and the
//     destructive and server-wide calls (DELETE, compact, /admin, the full
//     document list, /metrics).
//   - aud and iss are checked when the server is configured with an
//     audience or an issuer.
type Auth struct {
	secret  []byte
	pub     crypto.PublicKey
	methods []string
	parser  *jwt.Parser
	now     func() time.Time
}

// AuthConfig configures NewAuth. At least one of Secret and PublicKeyPEM
// is required.
type AuthConfig struct {
	// Secret verifies HS256/HS384/HS512 tokens.
	Secret []byte
	// PublicKeyPEM verifies tokens signed by its private key: an RSA key
	// (RS256/RS384/RS512), an ECDSA key (ES256, ES384 or ES512 by curve)
	// or an Ed25519 key (EdDSA), PEM "PUBLIC KEY" (PKIX) or "RSA PUBLIC
	// KEY" (PKCS #1), or a certificate whose key is one of those.
	PublicKeyPEM []byte
	// Audience, if set, must be in the token's aud; Issuer, if set, must
	// be its iss.
	Audience string
	Issuer   string
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// MinSecretBytes is the shortest HMAC secret NewAuth accepts: RFC 7518
// asks for a key at least as long as the hash (32 bytes for HS256).
const MinSecretBytes = 32

// NewAuth returns the verifier for cfg.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	a := &Auth{now: cfg.Now}
	if a.now == nil {
		a.now = time.Now
	}
	if len(cfg.Secret) == 0 && len(cfg.PublicKeyPEM) == 0 {
		return nil, errors.New("auth: neither a secret nor a public key")
	}
	if len(cfg.Secret) > 0 {
		if len(cfg.Secret) < MinSecretBytes {
			return nil, fmt.Errorf("auth: the secret is %d bytes; HS256 needs at least %d", len(cfg.Secret), MinSecretBytes)
		}
		a.secret = append([]byte(nil), cfg.Secret...)
		a.methods = append(a.methods, "HS256", "HS384", "HS512")
	}
	if len(cfg.PublicKeyPEM) > 0 {
		pub, methods, err := parsePublicKey(cfg.PublicKeyPEM)
		if err != nil {
			return nil, err
		}
		a.pub = pub
		a.methods = append(a.methods, methods...)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(a.methods),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(a.now),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// Methods are the signing algorithms the verifier accepts.
func (a *Auth) Methods() []string { return append([]string(nil), a.methods...) }

// parsePublicKey reads the first public key or certificate of a PEM file
// and the algorithms its type allows.
func parsePublicKey(data []byte) (crypto.PublicKey, []string, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, nil, errors.New("auth: no PEM public key (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)")
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
			return nil, nil, fmt.Errorf("auth: the key file holds a private key (%s); give the server the public key only", block.Type)
		default:
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("auth: public key: %w", err)
		}
		switch k := pub.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				return nil, nil, fmt.Errorf("auth: RSA key of %d bits; want at least 2048", k.N.BitLen())
			}
			return k, []string{"RS256", "RS384", "RS512"}, nil
		case *ecdsa.PublicKey:
			switch k.Curve {
			case elliptic.P256():
				return k, []string{"ES256"}, nil
			case elliptic.P384():
				return k, []string{"ES384"}, nil
			case elliptic.P521():
				return k, []string{"ES512"}, nil
			}
			return nil, nil, fmt.Errorf("auth: unsupported ECDSA curve %s", k.Curve.Params().Name)
		case ed25519.PublicKey:
			return k, []string{"EdDSA"}, nil
		default:
			return nil, nil, fmt.Errorf("auth: unsupported public key type %T (want RSA, ECDSA or Ed25519)", pub)
		}
	}
}

// Claims are the claims quire reads from a token.
type Claims struct {
	// Docs are the document names and patterns the token opens.
	Docs jwt.ClaimStrings `json:"docs,omitempty"`
	// Mode is "read" (default) or "write".
	Mode string `json:"mode,omitempty"`
	// Admin grants everything.
	Admin bool `json:"admin,omitempty"`
	jwt.RegisteredClaims
}

// Validate implements jwt.ClaimsValidator: the mode must be known.
func (c *Claims) Validate() error {
	switch c.Mode {
	case "", "read", "write":
		return nil
	}
	return fmt.Errorf("mode %q (want read or write)", c.Mode)
}

// Grant is what a verified token allows.
type Grant struct {
	docs    []string
	write   bool
	admin   bool
	expires time.Time
	subject string
}

// CanRead reports whether the grant opens document name.
func (g *Grant) CanRead(name string) bool {
	if g.admin {
		return true
	}
	for _, p := range g.docs {
		if matchDoc(p, name) {
			return true
		}
	}
	return false
}

// CanWrite reports whether the grant may change document name.
func (g *Grant) CanWrite(name string) bool { return (g.write || g.admin) && g.CanRead(name) }

// Admin reports whether the grant is an admin's.
func (g *Grant) Admin() bool { return g.admin }

// Expires is when the token lapses.
func (g *Grant) Expires() time.Time { return g.expires }

// matchDoc matches one docs pattern against a name: "**" is everything,
// "prefix/**" everything under prefix, anything else path.Match.
func matchDoc(pattern, name string) bool {
	if pattern == "**" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		// The prefix is itself a pattern, matched against the name's
		// leading segments.
		n := strings.Count(prefix, "/") + 1
		segs := strings.SplitN(name, "/", n+1)
		if len(segs) <= n {
			return false // nothing under the prefix
		}
		ok, err := path.Match(prefix, strings.Join(segs[:n], "/"))
		return err == nil && ok
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// errNoToken: the request carries no token.
var errNoToken = errors.New("authentication required: send a token (Authorization: Bearer, or ?token=)")

// tokenOf returns the request's token: Authorization: Bearer first, then
// the token query parameter (y-websocket's params, and links).
func tokenOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return r.URL.Query().Get("token")
}

// Verify checks a request's token and returns what it grants. Its error
// is safe to show to the client.
func (a *Auth) Verify(r *http.Request) (*Grant, error) {
	raw := tokenOf(r)
	if raw == "" {
		return nil, errNoToken
	}
	return a.VerifyToken(raw)
}

// VerifyToken checks one token.
func (a *Auth) VerifyToken(raw string) (*Grant, error) {
	var c Claims
	_, err := a.parser.ParseWithClaims(raw, &c, a.key)
	if err != nil {
		return nil, fmt.Errorf("invalid token: %w", err)
	}
	exp, _ := c.GetExpirationTime() // required by the parser
	return &Grant{docs: c.Docs, write: c.Mode == "write", admin: c.Admin, expires: exp.Time, subject: c.Subject}, nil
}

// key returns the key for the token's algorithm family. The parser has
// already refused algorithms outside a.methods; the type switch makes sure
// a key is only ever used with its own family.
func (a *Auth) key(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if a.secret != nil {
			return a.secret, nil
		}
	case *jwt.SigningMethodRSA:
		if k, ok := a.pub.(*rsa.PublicKey); ok {
			return k, nil
		}
	case *jwt.SigningMethodECDSA:
		if k, ok := a.pub.(*ecdsa.PublicKey); ok {
			return k, nil
		}
	case *jwt.SigningMethodEd25519:
		if k, ok := a.pub.(ed25519.PublicKey); ok {
			return k, nil
		}
	}
	return nil, fmt.Errorf("algorithm %v not accepted", t.Header["alg"])
}
