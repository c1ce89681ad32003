package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/quirehq/quire/storage"
	"github.com/quirehq/quire/sync"
	"github.com/quirehq/quire/web"
)

// Defaults of `quire serve`, each overridable by a flag or a QUIRE_*
// environment variable (the flag wins).
const (
	defaultAddr = ":8080"
	defaultData = "./data/quire.db"
)

// env returns the environment variable's value, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// newLogger returns the process logger: JSON lines, or a readable console
// format when w is a terminal (format "auto"), at the given level.
func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", level)
	}
	switch format {
	case "auto":
		if isTerminal(w) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000", NoColor: !isTerminal(w)}
	case "json":
	default:
		return zerolog.Logger{}, fmt.Errorf("unknown log format %q (want auto, json or console)", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// openStore opens (creating its directory) the bolt data file, with a
// clear message when another process holds it.
func openStore(path string, create bool) (*storage.Bolt, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, &exitError{1, fmt.Errorf("data file: %w", err)}
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, &exitError{1, fmt.Errorf("data directory: %w", err)}
	}
	st, err := storage.OpenBolt(path)
	if errors.Is(err, storage.ErrLocked) {
		return nil, &exitError{1, fmt.Errorf("%s is in use by another process (a running `quire serve`?): stop it, or use the REST API: %w", path, err)}
	}
	if err != nil {
		return nil, &exitError{1, err}
	}
	return st, nil
}

type serveOptions struct {
	addr, data             string
	logFormat, logLevel    string
	grace, shutdownTimeout time.Duration
	outboxMessages         int
	outboxBytes, maxFrame  int64
	maxBody                int64
	compactBytes           int64
	compactCount           int
	noGC                   bool

	// Authentication and browsers.
	authSecret, authPublicKey string
	authSecretFile            string
	authAudience, authIssuer  string
	allowedOrigins            string
	trustedProxies            string
	metricsAddr               string
	pprofAddr                 string

	// Limits of the web layer.
	maxConns, maxConnsPerIP int
	maxNameLen              int

	// Limits of the sessions (sync.Config).
	maxPeersPerDoc    int
	maxDocs           int
	maxDocBytes       int64
	maxPendingBytes   int64
	maxAwarenessBytes int
	rateMessages      float64
	rateBurstMessages int
	rateBytes         float64
	rateBurstBytes    int
	hibernateAfter    time.Duration
}

// envName is the environment variable of a serve flag: QUIRE_ and the
// flag's name in upper case with - as _ (--max-conns: QUIRE_MAX_CONNS).
func envName(flagName string) string {
	return "QUIRE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// serveFlags defines the flags of `quire serve` on fs, with their
// defaults, into o.
func serveFlags(fs *flag.FlagSet, o *serveOptions) {
	fs.StringVar(&o.addr, "addr", defaultAddr, "`address` to listen on; port 0 picks a free one, logged")
	fs.StringVar(&o.data, "data", defaultData, "bbolt data `file`; created with its directory if missing")
	fs.StringVar(&o.logFormat, "log-format", "auto", "auto (console on a terminal, else JSON), json or console")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.grace, "unload-after", sync.DefaultGrace, "keep a document loaded this long after its last peer left")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 20*time.Second, "on SIGTERM/SIGINT, how long to wait for documents to flush and peers to close")
	fs.IntVar(&o.outboxMessages, "outbox-messages", sync.DefaultOutboxMessages, "a peer with more unsent messages is closed (1013) and resyncs")
	fs.Int64Var(&o.outboxBytes, "outbox-bytes", sync.DefaultOutboxBytes, "a peer with more unsent bytes is closed (1013) and resyncs")
	fs.Int64Var(&o.maxFrame, "max-frame-bytes", sync.DefaultMaxFrameBytes, "largest WebSocket frame accepted (larger: close 1009)")
	fs.Int64Var(&o.maxBody, "max-body-bytes", web.DefaultMaxBodyBytes, "largest REST request body")
	fs.Int64Var(&o.compactBytes, "compact-log-bytes", storage.DefaultMaxLogBytes, "compact a document when its update log reaches this many bytes")
	fs.IntVar(&o.compactCount, "compact-log-count", storage.DefaultMaxLogCount, "compact a document when its update log reaches this many entries (under heavy editing, compactions are spaced so that they take about 2% of the document's time)")
	fs.BoolVar(&o.noGC, "no-gc", false, "keep deleted content in loaded documents (for history)")

	fs.StringVar(&o.authSecret, "auth-secret", "", "verify HS256 JWTs with this `secret` (at least 32 bytes; prefer the environment variable: flags show in ps)")
	fs.StringVar(&o.authSecretFile, "auth-secret-file", "", "read the HS256 `secret` from this file (trailing line breaks dropped), as container secrets are mounted; not with --auth-secret")
	fs.StringVar(&o.authPublicKey, "auth-public-key", "", "verify RS256, ES256 or EdDSA JWTs with the PEM public key in this `file`; with neither this nor --auth-secret the server runs open")
	fs.StringVar(&o.authAudience, "auth-audience", "", "if set, tokens must carry this aud")
	fs.StringVar(&o.authIssuer, "auth-issuer", "", "if set, tokens must carry this iss")
	fs.StringVar(&o.allowedOrigins, "allowed-origins", "", "comma-separated browser `origins` (https://app.example.com) allowed to connect and call the REST API (CORS), or *; the server's own origin and non-browser clients always are")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (for --max-conns-per-ip and logs)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "also serve /metrics, unauthenticated, on this `address` (for Prometheus when auth is on: /metrics on --addr then needs an admin token)")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "serve Go profiles (net/http/pprof, /debug/pprof/) on this `address`; off when empty. Keep it private")
	fs.IntVar(&o.maxConns, "max-conns", web.DefaultMaxConns, "most WebSocket connections at once; more are refused with 503 (-1: no limit)")
	fs.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", web.DefaultMaxConnsPerIP, "most WebSocket connections from one client address (an IPv6 /64); more are refused with 503 (-1: no limit)")
	fs.IntVar(&o.maxNameLen, "max-name-len", sync.MaxNameLen, fmt.Sprintf("longest document name, in bytes (1 to %d)", sync.MaxNameLen))

	fs.IntVar(&o.maxPeersPerDoc, "max-peers-per-doc", sync.DefaultMaxPeersPerDoc, "a peer joining a document with this many is refused (close 1013)")
	fs.IntVar(&o.maxDocs, "max-docs", sync.DefaultMaxDocs, "most documents loaded at once; idle ones are unloaded to make room, else new ones are refused (1013, REST 503)")
	fs.Int64Var(&o.maxDocBytes, "max-doc-bytes", sync.DefaultMaxDocBytes, "an update that would grow a document's encoded state past this is refused (close 4413, REST 413)")
	fs.Int64Var(&o.maxPendingBytes, "max-pending-bytes", sync.DefaultMaxPendingBytes, "a peer whose updates leave more than this waiting for missing dependencies is closed (1008)")
	fs.IntVar(&o.maxAwarenessBytes, "max-awareness-bytes", sync.DefaultMaxAwarenessBytes, "largest awareness state (cursor, presence) of one client; larger closes the peer (1008)")
	fs.Float64Var(&o.rateMessages, "rate-messages", sync.DefaultRateMessages, "messages per second a peer may send on average; past its burst it is closed (1008)")
	fs.IntVar(&o.rateBurstMessages, "rate-burst-messages", sync.DefaultRateBurstMessages, "messages a peer may send in a burst above --rate-messages")
	fs.Float64Var(&o.rateBytes, "rate-bytes", sync.DefaultRateBytes, "bytes per second a peer may send on average; past its burst it is closed (1008)")
	fs.IntVar(&o.rateBurstBytes, "rate-burst-bytes", sync.DefaultRateBurstBytes, "bytes a peer may send in a burst above --rate-bytes")
	fs.DurationVar(&o.hibernateAfter, "hibernate-after", sync.DefaultHibernateAfter, "documents load and relay edits without a crdt replica; one woken by a REST call or an update only a replica can judge is dropped after this long unused (negative: keep a replica while loaded)")

	fs.VisitAll(func(f *flag.Flag) { f.Usage += " [$" + envName(f.Name) + "]" })
}

// parseServe reads the flags of `quire serve`, and for every flag not
// given on the command line its environment variable (the flag wins).
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveOptions, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o serveOptions
	serveFlags(fs, &o)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quire serve [--addr ADDR] [--data FILE] [flags]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Serves Yjs documents: y-websocket clients connect to ws://ADDR/ws/<document>;")
		fmt.Fprintln(stderr, "REST at /api/v1/docs, probes at /healthz and /readyz, metrics at /metrics.")
		fmt.Fprintln(stderr, "SIGTERM or SIGINT: stop accepting, make every document durable, close peers")
		fmt.Fprintln(stderr, "with 1001 (they reconnect to the next server), exit 0.")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Authentication: with --auth-secret (or -file) or --auth-public-key every WebSocket and REST")
		fmt.Fprintln(stderr, "call needs a JWT (?token= or Authorization: Bearer) whose claims name the")
		fmt.Fprintln(stderr, "documents (docs), the mode (read or write) and admin; see the README.")
		fmt.Fprintln(stderr, "Every flag can also be set by the environment variable in brackets.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return o, usageErr("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageErr("%s=%q: %v", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if o.maxNameLen < 1 || o.maxNameLen > sync.MaxNameLen {
		return o, usageErr("--max-name-len %d: want 1 to %d", o.maxNameLen, sync.MaxNameLen)
	}
	if _, err := web.ParseOrigins(o.allowedOrigins); err != nil {
		return o, usageErr("--allowed-origins: %v", err)
	}
	for name, v := range map[string]float64{
		"max-peers-per-doc": float64(o.maxPeersPerDoc), "max-docs": float64(o.maxDocs),
		"max-doc-bytes": float64(o.maxDocBytes), "max-pending-bytes": float64(o.maxPendingBytes),
		"max-awareness-bytes": float64(o.maxAwarenessBytes), "rate-messages": o.rateMessages,
		"rate-burst-messages": float64(o.rateBurstMessages), "rate-bytes": o.rateBytes,
		"rate-burst-bytes": float64(o.rateBurstBytes),
	} {
		if !(v > 0) || math.IsInf(v, 0) {
			return o, usageErr("--%s %v: want a positive number", name, v)
		}
	}
	return o, nil
}

func runServe(args []string, _ io.Reader, _ io.Writer, stderr io.Writer) error {
	o, err := parseServe(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return usageErr("%v", err)
	}
	setGCDefault(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, o, &log, nil)
}

// gcPercent is the server's garbage collection target when GOGC is not
// set: the heap may grow to 1.5 times what is live between collections,
// rather than Go's default of 2. A collaboration server's live heap is
// mostly connections and documents that sit still, so the smaller target
// costs little CPU and keeps RSS near what is in use (docs/benchmarks.md
// has the trade measured). GOGC in the environment overrides it.
const gcPercent = 50

func setGCDefault(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// newAuth builds the token verifier of o, nil when authentication is off.
func newAuth(o serveOptions) (*web.Auth, error) {
	if o.authSecretFile != "" {
		if o.authSecret != "" {
			return nil, usageErr("--auth-secret and --auth-secret-file: give one")
		}
		b, err := os.ReadFile(o.authSecretFile)
		if err != nil {
			return nil, usageErr("--auth-secret-file: %v", err)
		}
		// Files written by editors and echo end with a line break that
		// is not part of the secret.
		if o.authSecret = strings.TrimRight(string(b), "\r\n"); o.authSecret == "" {
			return nil, usageErr("--auth-secret-file %s: empty", o.authSecretFile)
		}
	}
	if o.authSecret == "" && o.authPublicKey == "" {
		return nil, nil
	}
	cfg := web.AuthConfig{Secret: []byte(o.authSecret), Audience: o.authAudience, Issuer: o.authIssuer}
	if o.authPublicKey != "" {
		pem, err := os.ReadFile(o.authPublicKey)
		if err != nil {
			return nil, usageErr("--auth-public-key: %v", err)
		}
		cfg.PublicKeyPEM = pem
	}
	a, err := web.NewAuth(cfg)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return a, nil
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// serve runs the server until ctx ends, then shuts it down gracefully. If
// ready is not nil it receives the listening address.
func serve(ctx context.Context, o serveOptions, log *zerolog.Logger, ready chan<- string) error {
	auth, err := newAuth(o)
	if err != nil {
		return err
	}
	origins, err := web.ParseOrigins(o.allowedOrigins)
	if err != nil {
		return usageErr("--allowed-origins: %v", err)
	}
	st, err := openStore(o.data, true)
	if err != nil {
		return err
	}
	defer st.Close()
	metrics := web.NewMetrics()
	hub := sync.NewHub(sync.Config{
		Store:          st,
		Policy:         storage.Policy{MaxLogBytes: o.compactBytes, MaxLogCount: o.compactCount},
		NoGC:           o.noGC,
		Log:            log,
		Metrics:        metrics,
		Grace:          o.grace,
		OutboxMessages: o.outboxMessages,
		OutboxBytes:    int(o.outboxBytes),

		MaxPeersPerDoc:    o.maxPeersPerDoc,
		MaxDocs:           o.maxDocs,
		MaxDocBytes:       o.maxDocBytes,
		MaxPendingBytes:   o.maxPendingBytes,
		MaxAwarenessBytes: o.maxAwarenessBytes,
		RateMessages:      o.rateMessages,
		RateBurstMessages: o.rateBurstMessages,
		RateBytes:         o.rateBytes,
		RateBurstBytes:    o.rateBurstBytes,
		HibernateAfter:    o.hibernateAfter,
	})
	if auth != nil {
		log.Info().Strs("algorithms", auth.Methods()).Msg("authentication on: every connection and request needs a token")
	}
	handler, err := web.NewServer(web.Config{
		Hub:            hub,
		Metrics:        metrics,
		Log:            log,
		WS:             sync.WSOptions{MaxFrameBytes: o.maxFrame},
		MaxBodyBytes:   o.maxBody,
		Auth:           auth,
		AllowedOrigins: origins,
		TrustedProxies: splitList(o.trustedProxies),
		MaxConns:       o.maxConns,
		MaxConnsPerIP:  o.maxConnsPerIP,
		MaxNameLen:     o.maxNameLen,
	})
	if err != nil {
		_ = hub.Close(context.Background())
		return usageErr("%v", err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = hub.Close(context.Background())
		return &exitError{1, err}
	}
	var metricsSrv *http.Server
	if o.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		metricsSrv, err = serveSide(o.metricsAddr, mux, log.Info(), "metrics listening")
		if err != nil {
			ln.Close()
			_ = hub.Close(context.Background())
			return &exitError{1, fmt.Errorf("--metrics-addr: %w", err)}
		}
		defer metricsSrv.Close()
	}
	if o.pprofAddr != "" {
		// Profiling is off unless asked for, and on its own listener, so
		// that it is never exposed on the public address by accident.
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		psrv, err := serveSide(o.pprofAddr, mux, log.Warn(), "pprof listening (profiling endpoints; keep this address private)")
		if err != nil {
			ln.Close()
			_ = hub.Close(context.Background())
			return &exitError{1, fmt.Errorf("--pprof-addr: %w", err)}
		}
		defer psrv.Close()
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info().Str("addr", ln.Addr().String()).Str("data", o.data).Msg("listening")
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		closeCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
		defer cancel()
		_ = hub.Close(closeCtx)
		return &exitError{1, err}
	case <-ctx.Done():
	}

	t0 := time.Now()
	log.Info().Msg("shutting down: no new connections; flushing documents")
	shutCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	// Stop accepting and let REST requests finish; WebSocket connections
	// are hijacked, the hub closes them.
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn().Err(err).Msg("http shutdown")
	}
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutCtx)
	}
	stats := hub.Stats()
	if err := hub.Close(shutCtx); err != nil {
		log.Error().Err(err).Msg("documents not all closed in time")
		return &exitError{1, err}
	}
	if err := st.Close(); err != nil {
		return &exitError{1, fmt.Errorf("closing the data file: %w", err)}
	}
	log.Info().Dur("took", time.Since(t0)).Int("docs", stats.Docs).Int("peers", stats.Peers).Msg("stopped")
	return nil
}

// serveSide serves h on its own listener at addr (metrics, profiling: the
// private side addresses).
// The line logged on success is ev with the address and msg.
func serveSide(addr string, h http.Handler, ev *zerolog.Event, msg string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ev.Discard()
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ev.Str("addr", ln.Addr().String()).Msg(msg)
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}
