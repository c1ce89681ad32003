package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/render"
	"github.com/quirehq/quire/sync"
)

// The offline commands work on a data file that no server has open (bbolt
// locks it), through the same sync.Hub the server uses, so an import is
// stored exactly as a live edit would be.

// withHub opens the data file and a hub on it, runs f, and closes both,
// making what f wrote durable.
func withHub(data string, create bool, f func(ctx context.Context, h *sync.Hub) error) error {
	st, err := openStore(data, create)
	if err != nil {
		return err
	}
	defer st.Close()
	h := sync.NewHub(sync.Config{Store: st, Grace: time.Millisecond})
	ctx := context.Background()
	ferr := f(ctx, h)
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := h.Close(closeCtx); err != nil && ferr == nil {
		ferr = err
	}
	if err := st.Close(); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", env("QUIRE_DATA", defaultData), "bbolt data `file` (QUIRE_DATA)")
}

func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, &exitError{2, err}
	}
	return false, nil
}

func hubErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sync.ErrNotFound), errors.Is(err, render.ErrNoField), errors.Is(err, render.ErrUnsupported):
		return &exitError{1, err}
	case errors.Is(err, sync.ErrInvalidName):
		return &exitError{2, err}
	case errors.Is(err, crdt.ErrMalformed):
		return &exitError{2, err}
	}
	return err
}

func runList(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON (as GET /api/v1/docs) instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quire list [--data FILE] [--json]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Lists the documents of a data file that no server has open.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	st, err := openStore(*data, false)
	if err != nil {
		return err
	}
	defer st.Close()
	metas, err := st.List(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		docs := make([]map[string]any, 0, len(metas))
		for _, m := range metas {
			docs = append(docs, map[string]any{"name": m.Name, "size": m.Bytes, "snapshotBytes": m.SnapshotBytes,
				"logBytes": m.LogBytes, "logCount": m.LogCount, "created": m.Created, "updated": m.Updated})
		}
		enc := json.NewEncoder(stdout)
		return enc.Encode(map[string]any{"docs": docs})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tSNAPSHOT\tLOG\tUPDATED")
	for _, m := range metas {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d entries, %d bytes\t%s\n", m.Name, m.Bytes, m.SnapshotBytes, m.LogCount, m.LogBytes,
			m.Updated.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func runCompact(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	doc := fs.String("doc", "", "compact only this `document` (default: every document with a log)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quire compact [--data FILE] [--doc NAME]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Folds each document's update log into its snapshot, so that it loads by")
		fmt.Fprintln(stderr, "decoding one update. The server does this by itself as logs grow; this is")
		fmt.Fprintln(stderr, "for a data file that no server has open.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return withHub(*data, false, func(ctx context.Context, h *sync.Hub) error {
		docs, err := h.List(ctx)
		if err != nil {
			return err
		}
		n := 0
		for _, d := range docs {
			if (*doc != "" && d.Name != *doc) || (*doc == "" && d.LogCount == 0) {
				continue
			}
			n++
			if err := h.Compact(ctx, d.Name); err != nil {
				return hubErr(fmt.Errorf("%s: %w", d.Name, err))
			}
			after, _ := h.Info(ctx, d.Name)
			fmt.Fprintf(stdout, "%s: %d log entries (%d bytes) + %d snapshot bytes -> %d snapshot bytes\n",
				d.Name, d.LogCount, d.LogBytes, d.SnapshotBytes, after.SnapshotBytes)
		}
		if *doc != "" && n == 0 {
			return &exitError{1, fmt.Errorf("%w: %q", sync.ErrNotFound, *doc)}
		}
		return nil
	})
}

// importFormats are the --format values of import.
var importFormats = []string{"auto", "text", "markdown", "yjs"}

func runImport(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	doc := fs.String("doc", "", "`document` to import into (created if missing)")
	format := fs.String("format", "auto", "text, markdown, yjs (a v1 update) or auto (by the file's extension: .md .markdown, .txt, .bin .yjs)")
	field := fs.String("field", "", "root type to replace for text and markdown (default: the document's text root, else \"default\")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quire import --doc NAME [--data FILE] [--format auto|text|markdown|yjs] [--field NAME] FILE|-")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Imports into a data file that no server has open. Text and Markdown replace")
		fmt.Fprintln(stderr, "the content of one root type (as PUT /api/v1/docs/NAME does); a Yjs update is")
		fmt.Fprintln(stderr, "merged into the document.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("want one input file (or - for standard input)")
	}
	if *doc == "" {
		return usageErr("--doc is required")
	}
	if err := sync.ValidName(*doc); err != nil {
		return usageErr("--doc: %v", err)
	}
	in := fs.Arg(0)
	f := *format
	if f == "auto" {
		switch strings.ToLower(filepath.Ext(in)) {
		case ".md", ".markdown":
			f = "markdown"
		case ".txt", ".text":
			f = "text"
		case ".bin", ".yjs", ".update":
			f = "yjs"
		default:
			return usageErr("cannot tell the format of %q from its extension; give --format", in)
		}
	}
	ok := false
	for _, v := range importFormats[1:] {
		ok = ok || v == f
	}
	if !ok {
		return usageErr("--format must be one of %s, not %q", strings.Join(importFormats, ", "), f)
	}
	var body []byte
	var err error
	if in == "-" {
		body, err = io.ReadAll(stdin)
	} else {
		body, err = os.ReadFile(in)
	}
	if err != nil {
		return &exitError{1, err}
	}
	return withHub(*data, true, func(ctx context.Context, h *sync.Hub) error {
		var err error
		switch f {
		case "yjs":
			err = h.Apply(ctx, *doc, body)
		default:
			var importErr error
			err = h.Edit(ctx, *doc, func(d *crdt.Doc) error {
				if f == "markdown" {
					importErr = render.ImportMarkdown(d, *field, string(body))
				} else {
					importErr = render.ImportText(d, *field, string(body))
				}
				return nil
			})
			if err == nil {
				err = importErr
			}
		}
		if err != nil {
			return hubErr(fmt.Errorf("%s: %w", in, err))
		}
		info, err := h.Info(ctx, *doc)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported %s into %q (%d bytes stored)\n", in, *doc, info.Bytes)
		return nil
	})
}

// exportStored prints a stored document (export --data --doc).
func exportStored(data, doc, format, field string, stdout io.Writer) error {
	if err := sync.ValidName(doc); err != nil {
		return usageErr("--doc: %v", err)
	}
	return withHub(data, false, func(ctx context.Context, h *sync.Hub) error {
		if _, err := h.Info(ctx, doc); err != nil {
			return hubErr(err)
		}
		var out []byte
		var renderErr error
		err := h.Read(ctx, doc, func(d *crdt.Doc) error {
			out, renderErr = renderDoc(d, format, field)
			return nil
		})
		if err == nil {
			err = renderErr
		}
		if err != nil {
			return hubErr(err)
		}
		_, err = stdout.Write(out)
		return err
	})
}
