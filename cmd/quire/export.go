package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/render"
)

func runExport(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	update := fs.String("update", "", "Yjs update `file` to read (- for standard input)")
	data := fs.String("data", "", "bbolt data `file` to read a stored document from (with --doc)")
	doc := fs.String("doc", "", "stored `document` to print (with --data)")
	format := fs.String("format", "json", "output format: json, text, markdown, html or yjs (the full state as a v1 update)")
	v2 := fs.Bool("v2", false, "the update is in the v2 format")
	field := fs.String("field", "", "root type to print as text, markdown or html (default: the document's text root)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quire export --update FILE [--v2] [--format F] [--field NAME]")
		fmt.Fprintln(stderr, "       quire export --data FILE --doc NAME [--format F] [--field NAME]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Prints a document: one a raw Yjs update holds, or one stored in a data file")
		fmt.Fprintln(stderr, "that no server has open. json gives every root type by name as yjs's toJSON")
		fmt.Fprintln(stderr, "would; text, markdown and html render one root as the REST export does.")
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
	switch *format {
	case "json", "text", "markdown", "html", "yjs":
	default:
		return usageErr("--format must be json, text, markdown, html or yjs, not %q", *format)
	}
	if *doc != "" || *data != "" {
		if *update != "" {
			return usageErr("give either --update or --data with --doc, not both")
		}
		if *doc == "" {
			return usageErr("--doc is required with --data")
		}
		if *data == "" {
			*data = env("QUIRE_DATA", defaultData)
		}
		return exportStored(*data, *doc, *format, *field, stdout)
	}
	if *update == "" {
		return usageErr("--update is required (a file, or - for standard input), or --data with --doc")
	}
	var buf []byte
	var err error
	if *update == "-" {
		buf, err = io.ReadAll(stdin)
	} else {
		buf, err = os.ReadFile(*update)
	}
	if err != nil {
		return &exitError{1, err}
	}
	d := crdt.NewDoc(crdt.Options{NoGC: true})
	if *v2 {
		err = d.ApplyUpdateV2(buf)
	} else {
		err = d.ApplyUpdate(buf)
	}
	if err != nil {
		return &exitError{2, fmt.Errorf("%s: %w", *update, err)}
	}
	if d.HasPending() {
		fmt.Fprintf(stderr, "quire export: warning: %s depends on updates it does not contain; that part is not shown\n", *update)
	}
	out, err := renderDoc(d, *format, *field)
	if err != nil {
		return hubErr(err)
	}
	_, err = stdout.Write(out)
	return err
}

// renderDoc renders d in one of export's formats, as the REST export does.
func renderDoc(d *crdt.Doc, format, field string) ([]byte, error) {
	if format == "yjs" {
		return d.EncodeStateAsUpdate(nil)
	}
	s, err := render.As(d, format, field)
	if format == "json" {
		s += "\n"
	}
	return []byte(s), err
}
