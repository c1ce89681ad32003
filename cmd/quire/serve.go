package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
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
}

func runServe(args []string, _ io.Reader, _ io.Writer, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o serveOptions
	fs.StringVar(&o.addr, "addr", env("QUIRE_ADDR", defaultAddr), "`address` to listen on (QUIRE_ADDR); port 0 picks a free one, logged")
	fs.StringVar(&o.data, "data", env("QUIRE_DATA", defaultData), "bbolt data `file` (QUIRE_DATA); created with its directory if missing")
	fs.StringVar(&o.logFormat, "log-format", env("QUIRE_LOG_FORMAT", "auto"), "auto (console on a terminal, else JSON), json or console (QUIRE_LOG_FORMAT)")
	fs.StringVar(&o.logLevel, "log-level", env("QUIRE_LOG_LEVEL", "info"), "debug, info, warn or error (QUIRE_LOG_LEVEL)")
	fs.DurationVar(&o.grace, "unload-after", sync.DefaultGrace, "keep a document loaded this long after its last peer left")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 20*time.Second, "on SIGTERM/SIGINT, how long to wait for documents to flush and peers to close")
	fs.IntVar(&o.outboxMessages, "outbox-messages", sync.DefaultOutboxMessages, "a peer with more unsent messages is closed (1013) and resyncs")
	fs.Int64Var(&o.outboxBytes, "outbox-bytes", sync.DefaultOutboxBytes, "a peer with more unsent bytes is closed (1013) and resyncs")
	fs.Int64Var(&o.maxFrame, "max-frame-bytes", sync.DefaultMaxFrameBytes, "largest WebSocket frame accepted (larger: close 1009)")
	fs.Int64Var(&o.maxBody, "max-body-bytes", web.DefaultMaxBodyBytes, "largest REST request body")
	fs.Int64Var(&o.compactBytes, "compact-log-bytes", storage.DefaultMaxLogBytes, "compact a document when its update log reaches this many bytes")
	fs.IntVar(&o.compactCount, "compact-log-count", storage.DefaultMaxLogCount, "compact a document when its update log reaches this many entries")
	fs.BoolVar(&o.noGC, "no-gc", false, "keep deleted content in loaded documents (for history)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quire serve [--addr ADDR] [--data FILE] [flags]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Serves Yjs documents: y-websocket clients connect to ws://ADDR/ws/<document>;")
		fmt.Fprintln(stderr, "REST at /api/v1/docs, probes at /healthz and /readyz, metrics at /metrics.")
		fmt.Fprintln(stderr, "SIGTERM or SIGINT: stop accepting, make every document durable, close peers")
		fmt.Fprintln(stderr, "with 1001 (they reconnect to the next server), exit 0.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return usageErr("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, o, &log, nil)
}

// serve runs the server until ctx ends, then shuts it down gracefully. If
// ready is not nil it receives the listening address.
func serve(ctx context.Context, o serveOptions, log *zerolog.Logger, ready chan<- string) error {
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
	})
	handler := web.New(web.Config{
		Hub:          hub,
		Metrics:      metrics,
		Log:          log,
		WS:           sync.WSOptions{MaxFrameBytes: o.maxFrame},
		MaxBodyBytes: o.maxBody,
	})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return &exitError{1, err}
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
