// Command quire is the quire collaborative document server and its tools.
//
//	quire serve [--addr ADDR] [--data FILE]
//	quire export --update FILE | --data FILE --doc NAME [--format F] [--field NAME]
//	quire import --doc NAME [--data FILE] [--format F] FILE
//	quire list [--data FILE]
//	quire compact [--data FILE] [--doc NAME]
//
// Run `quire help` for the commands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr is a command-line mistake: exit code 2.
func usageErr(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

type command struct {
	name, summary string
	run           func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the server (WebSocket, REST, metrics)", runServe},
	{"export", "print a document (stored, or from a Yjs update file) as JSON, text, Markdown, HTML or Yjs", runExport},
	{"import", "import text, Markdown or a Yjs update into a stored document", runImport},
	{"list", "list the documents of a data file", runList},
	{"compact", "fold documents' update logs into their snapshots", runCompact},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdin, stdout, stderr)
			if err == nil {
				return 0
			}
			fmt.Fprintf(stderr, "quire %s: %v\n", c.name, err)
			var ee *exitError
			if errors.As(err, &ee) {
				return ee.code
			}
			return 1
		}
	}
	fmt.Fprintf(stderr, "quire: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: quire <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'quire <command> --help' for a command's flags.")
}
