// Command quire-load drives a Yjs sync server on loopback and measures it:
// quire, the reference @y/websocket-server (y-websocket envelope) or
// Hocuspocus (its envelope: the document name before every message, an
// auth message first). The clients are Go, with quire's crdt as the Yjs
// replica, so the same client measures every server.
//
//	quire-load room       --url ws://127.0.0.1:8080/ws --pid PID --editors 250 --rate 1 --duration 20s
//	quire-load docs       --url ... --docs 1000 --rate 1 --duration 20s
//	quire-load idle       --url ... --conns 10000 --hold 30s
//	quire-load catchup    --url ... --offline-edits 100000
//	quire-load join-storm --url ... --clients 200 --doc-bytes 5000000
//
// Add --envelope hocuspocus for Hocuspocus (its URL is the server root).
// The server's CPU time and RSS are read from /proc/PID; the generator's
// own CPU is reported next to them, so that a saturated generator is not
// mistaken for a slow server. Every loop is bounded by a count and by
// --duration/--timeout. Output: a table on stdout, and JSON with --json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"
)

type options struct {
	scenario string
	url      string
	envName  string
	pid      int
	label    string
	jsonOut  string
	timeout  time.Duration
	wtimeout time.Duration
	srcIPs   int
	parallel int
	hpVer    string
	doc      string
	rest     bool
	cpuProf  string
	cache    string
	trace    string
	prepare  bool

	// room, docs
	editors       int
	rate          float64
	duration      time.Duration
	drain         time.Duration
	checkers      int
	editorReplica string
	echo          string
	seedChars     int
	docs          int
	verifyDocs    int

	// idle
	conns    int
	idleDocs int
	hold     time.Duration
	renew    time.Duration

	// catchup
	offline int

	// join-storm
	clients  int
	docBytes int
	verify   int
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quire-load:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

var scenarios = map[string]func(ctx context.Context, o *options, t *target) (*Result, error){
	"room":       runRoom,
	"docs":       runDocs,
	"idle":       runIdle,
	"catchup":    runCatchup,
	"join-storm": runJoinStorm,
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: quire-load room|docs|idle|catchup|join-storm [flags]  (quire-load SCENARIO -h for flags)")
		return usageError{errors.New("no scenario")}
	}
	o := &options{scenario: args[0]}
	fn, ok := scenarios[o.scenario]
	if !ok {
		return usageError{fmt.Errorf("unknown scenario %q (room, docs, idle, catchup, join-storm)", o.scenario)}
	}
	fs := flag.NewFlagSet(o.scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8080/ws", "server WebSocket URL; y-websocket: documents are URL/<name>; hocuspocus: the URL as is")
	fs.StringVar(&o.envName, "envelope", "y-websocket", "y-websocket (quire, @y/websocket-server) or hocuspocus")
	fs.IntVar(&o.pid, "pid", 0, "server process id, for its CPU time and RSS from /proc (0: not measured)")
	fs.StringVar(&o.label, "label", "", "name of the server in the output")
	fs.StringVar(&o.jsonOut, "json", "", "also write the result as JSON to this file (- for stdout; the table then goes to stderr)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "hard limit on the whole run")
	fs.DurationVar(&o.wtimeout, "write-timeout", 30*time.Second, "limit on one frame write")
	fs.IntVar(&o.srcIPs, "src-ips", 1, "spread connections over source addresses 127.0.0.1..N (more than ~28k connections need several)")
	fs.IntVar(&o.parallel, "parallel", 64, "connections opened concurrently")
	fs.StringVar(&o.hpVer, "hp-version", "4.7.0", "provider version sent in Hocuspocus's auth message")
	fs.StringVar(&o.doc, "doc", "", "document name (prefix); default: unique per run")
	fs.BoolVar(&o.rest, "rest", false, "also compare the result with quire's REST text export")
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "write the generator's CPU profile to this file")
	fs.StringVar(&o.cache, "cache", os.TempDir()+"/quire-load-cache", "directory for built documents (catchup, join-storm)")
	fs.BoolVar(&o.prepare, "prepare", false, "catchup, join-storm: only build (and cache) the document, then exit")
	fs.StringVar(&o.trace, "trace", "", "automerge-paper.json.gz (default: found under crdt/testdata/traces or ../shared/traces)")

	fs.IntVar(&o.editors, "editors", 20, "room: editors in the document")
	fs.Float64Var(&o.rate, "rate", 1, "room, docs: edits per second per editor (each edit also moves the cursor: one awareness update)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "room, docs: how long the editors edit")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "room, docs: after editing stops, how long to wait for every edit to arrive")
	fs.IntVar(&o.checkers, "checkers", 2, "room: full replicas that only receive, and check convergence")
	fs.StringVar(&o.editorReplica, "editor-replica", "own", "room: own (an editor's replica holds the document as it joined plus its own edits: valid Yjs inserts, no decoding of others' edits) or full (every editor applies every update)")
	fs.StringVar(&o.echo, "awareness-echo", "auto", "room: re-send every remote awareness change, as the y-websocket provider does (on, off; auto: on for y-websocket, off for hocuspocus, whose provider does not)")
	fs.IntVar(&o.seedChars, "seed-chars", 2000, "room: characters in the document before the editors join")
	fs.IntVar(&o.docs, "docs", 200, "docs: documents, two editors each")
	fs.IntVar(&o.verifyDocs, "verify-docs", 50, "docs: documents also checked by a fresh joiner at the end (0: all)")

	fs.IntVar(&o.conns, "conns", 1000, "idle: connections")
	fs.IntVar(&o.idleDocs, "idle-docs", 100, "idle: documents the connections are spread over")
	fs.DurationVar(&o.hold, "hold", 30*time.Second, "idle: how long the connections are held (CPU is measured over it)")
	fs.DurationVar(&o.renew, "renew", 15*time.Second, "idle: awareness renewal period of each connection, as y-protocols (0: none)")

	fs.IntVar(&o.offline, "offline-edits", 1000, "catchup: edits made offline before reconnecting")

	fs.IntVar(&o.clients, "clients", 200, "join-storm: clients opening the document at once")
	fs.IntVar(&o.docBytes, "doc-bytes", 5_000_000, "join-storm: encoded size of the document (copies of automerge-paper)")
	fs.IntVar(&o.verify, "verify", 2, "join-storm: clients that also apply what they receive and compare the text")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	t := &target{url: o.url, hpVersion: o.hpVer, wtimeout: o.wtimeout}
	switch o.envName {
	case "y-websocket", "ywebsocket", "yws":
		t.env = envYWS
	case "hocuspocus", "hp":
		t.env = envHP
	default:
		return usageError{fmt.Errorf("unknown envelope %q", o.envName)}
	}
	if o.editors < 1 || o.editors > maxEditors {
		return usageError{fmt.Errorf("--editors %d: want 1 to %d", o.editors, maxEditors)}
	}
	for i := 1; i <= o.srcIPs && o.srcIPs > 1; i++ {
		t.srcIPs = append(t.srcIPs, net.IPv4(127, 0, 0, byte(i)))
	}
	if o.doc == "" {
		o.doc = fmt.Sprintf("%s-%d", o.scenario, time.Now().UnixNano()%1e9)
	}
	raiseFileLimit()
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	res, err := fn(ctx, o, t)
	if res == nil {
		return err
	}
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	res.Scenario, res.Label, res.Envelope, res.URL = o.scenario, o.label, t.env.String(), o.url
	res.Date = time.Now().UTC().Format(time.RFC3339)
	table := stdout
	if o.jsonOut == "-" {
		table = stderr
	}
	res.print(table)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		b = append(b, '\n')
		if o.jsonOut == "-" {
			_, _ = stdout.Write(b)
		} else if werr := os.WriteFile(o.jsonOut, b, 0o644); werr != nil {
			return werr
		}
	}
	if len(res.Errors) > 0 {
		return errors.New(strings.Join(res.Errors, "; "))
	}
	return nil
}

func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// Result is one run of one scenario.
type Result struct {
	Scenario  string         `json:"scenario"`
	Label     string         `json:"label,omitempty"`
	Envelope  string         `json:"envelope"`
	URL       string         `json:"url"`
	Date      string         `json:"date"`
	Params    map[string]any `json:"params"`
	Latency   *Latency       `json:"latency,omitempty"`
	Converged *bool          `json:"converged,omitempty"`
	Metrics   map[string]any `json:"metrics"`
	Usage     Usage          `json:"usage"`
	Errors    []string       `json:"errors,omitempty"`
}

func newResult() *Result { return &Result{Params: map[string]any{}, Metrics: map[string]any{}} }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func (r *Result) print(w io.Writer) {
	title := r.Scenario
	if r.Label != "" {
		title += " — " + r.Label
	}
	fmt.Fprintf(w, "%s (%s, %s)\n", title, r.Envelope, r.URL)
	row := func(k string, v any) { fmt.Fprintf(w, "  %-40s %v\n", k, v) }
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	for _, k := range keys(r.Params) {
		row(k, r.Params[k])
	}
	if l := r.Latency; l != nil {
		row("latency p50/p95/p99/max", fmt.Sprintf("%.1f / %.1f / %.1f / %.1f ms (n=%d)", l.P50, l.P95, l.P99, l.Max, l.N))
	}
	for _, k := range keys(r.Metrics) {
		v := r.Metrics[k]
		if f, ok := v.(float64); ok {
			v = fmt.Sprintf("%.3g", f)
		}
		row(k, v)
	}
	if r.Converged != nil {
		row("converged", *r.Converged)
	}
	u := r.Usage
	row("phase", fmt.Sprintf("%.1f s", u.Seconds))
	if u.ServerRSS1 > 0 {
		row("server CPU", fmt.Sprintf("%.2f s (%.0f%% of a core)", u.ServerCPU, u.ServerCPUPct))
		row("server RSS start/end/peak", fmt.Sprintf("%s / %s / %s (VmHWM %s)", mb(u.ServerRSS0), mb(u.ServerRSS1), mb(u.ServerRSSPeak), mb(u.ServerHWM)))
	}
	row("generator CPU", fmt.Sprintf("%.2f s (%.0f%% of a core)", u.GenCPU, u.GenCPUPct))
	row("box busy / loadavg", fmt.Sprintf("%.0f%% of all cores / %s", u.BoxBusyPct, u.LoadAvg))
	for _, e := range r.Errors {
		row("ERROR", e)
	}
}
