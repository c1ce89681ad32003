package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleA is `getText('t').insert(0, 'abc')` by client 1, as yjs encodes it.
var exampleA = []byte{0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x03, 0x61, 0x62, 0x63, 0x00}

func TestExport(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(good, exampleA, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(bad, exampleA[:5], 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    []byte
		code     int
		out, err string
	}{
		{"json from file", []string{"export", "--update", good}, nil, 0, "{\"t\":\"abc\"}\n", ""},
		{"text from stdin", []string{"export", "--update", "-", "--format", "text"}, exampleA, 0, "abc", ""},
		{"named field", []string{"export", "--update", good, "--format", "text", "--field", "t"}, nil, 0, "abc", ""},
		{"unknown field", []string{"export", "--update", good, "--format", "text", "--field", "nope"}, nil, 1, "", "no field"},
		{"malformed", []string{"export", "--update", bad}, nil, 2, "", "malformed update"},
		{"malformed stdin", []string{"export", "--update", "-"}, []byte{0xff}, 2, "", "malformed update"},
		{"v1 read as v2", []string{"export", "--update", good, "--v2"}, nil, 2, "", "malformed update"},
		{"missing flag", []string{"export"}, nil, 2, "", "--update is required"},
		{"bad format", []string{"export", "--update", good, "--format", "xml"}, nil, 2, "", "--format"},
		{"missing file", []string{"export", "--update", filepath.Join(dir, "none")}, nil, 1, "", "no such file"},
		{"unknown command", []string{"frobnicate"}, nil, 2, "", "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, bytes.NewReader(tc.stdin), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if tc.out != "" && out.String() != tc.out {
				t.Fatalf("stdout %q, want %q", out.String(), tc.out)
			}
			if tc.err != "" && !strings.Contains(errb.String(), tc.err) {
				t.Fatalf("stderr %q does not mention %q", errb.String(), tc.err)
			}
		})
	}
}
