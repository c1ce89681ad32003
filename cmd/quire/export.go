package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

func runExport(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	update := fs.String("update", "", "Yjs update `file` to read (- for standard input)")
	format := fs.String("format", "json", "output format: json or text")
	v2 := fs.Bool("v2", false, "the update is in the v2 format")
	field := fs.String("field", "", "root type to print as text (default: the document's text root)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quire export --update FILE [--format json|text] [--v2] [--field NAME]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Prints the document a raw Yjs update holds. json gives every root type by")
		fmt.Fprintln(stderr, "name as yjs's toJSON would; text gives the plain text of one root.")
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
	if *update == "" {
		return usageErr("--update is required (a file, or - for standard input)")
	}
	if *format != "json" && *format != "text" {
		return usageErr("--format must be json or text, not %q", *format)
	}
	var data []byte
	var err error
	if *update == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(*update)
	}
	if err != nil {
		return &exitError{1, err}
	}
	doc := crdt.NewDoc(crdt.Options{NoGC: true})
	if *v2 {
		err = doc.ApplyUpdateV2(data)
	} else {
		err = doc.ApplyUpdate(data)
	}
	if err != nil {
		return &exitError{2, fmt.Errorf("%s: %w", *update, err)}
	}
	if doc.HasPending() {
		fmt.Fprintf(stderr, "quire export: warning: %s depends on updates it does not contain; that part is not shown\n", *update)
	}
	switch *format {
	case "json":
		s, err := lib0.StringifyJSON(doc.ToJSON())
		if err != nil {
			return &exitError{1, err}
		}
		_, err = fmt.Fprintln(stdout, s)
		return err
	default:
		name := *field
		if name == "" {
			name = crdt.DefaultTextRoot(doc)
			if name == "" {
				return &exitError{1, errors.New("the document has no text root; name one with --field")}
			}
		}
		s, err := crdt.PlainText(doc, name)
		if err != nil {
			return &exitError{1, err}
		}
		_, err = io.WriteString(stdout, s)
		return err
	}
}
