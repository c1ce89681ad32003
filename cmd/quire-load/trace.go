package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/quirehq/quire/crdt"
)

type traceFile struct {
	EndContent string `json:"endContent"`
	Txns       []struct {
		Patches [][3]any `json:"patches"`
	} `json:"txns"`
}

// findTrace returns the path of the named trace (automerge-paper): the flag
// if given, else $QUIRE_TRACES, crdt/testdata/traces, ../shared/traces.
func findTrace(flagPath, name string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	var dirs []string
	if d := os.Getenv("QUIRE_TRACES"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, "crdt/testdata/traces", "../shared/traces", "../../shared/traces")
	for _, d := range dirs {
		p := filepath.Join(d, name+".json.gz")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("trace %s.json.gz not found (looked in %v; use --trace)", name, dirs)
}

func loadTrace(path string) (*traceFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var tr traceFile
	if err := json.NewDecoder(zr).Decode(&tr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &tr, nil
}

// replayInto applies every patch of tr to text, positions shifted by base,
// one transaction per trace transaction.
func replayInto(d *crdt.Doc, text *crdt.Text, tr *traceFile, base int) error {
	var err error
	for _, tx := range tr.Txns {
		d.Transact(func() {
			for _, p := range tx.Patches {
				pos := int(p[0].(float64)) + base
				del := int(p[1].(float64))
				ins, _ := p[2].(string)
				if del > 0 {
					if e := text.Delete(pos, del); e != nil && err == nil {
						err = e
					}
				}
				if ins != "" {
					if e := text.Insert(pos, ins, nil); e != nil && err == nil {
						err = e
					}
				}
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// traceDoc returns the full-state update of a document built by replaying
// the trace copies times, each copy after the previous one's text (until
// the encoded state reaches minBytes, if minBytes > 0), into the root text
// "t". The result is cached in cacheDir.
func traceDoc(tracePath, cacheDir string, minBytes int) ([]byte, error) {
	key := fmt.Sprintf("%s-min%d.yjs", filepath.Base(tracePath), minBytes)
	cache := filepath.Join(cacheDir, key)
	if b, err := os.ReadFile(cache); err == nil && len(b) > 0 {
		return b, nil
	}
	tr, err := loadTrace(tracePath)
	if err != nil {
		return nil, err
	}
	d := crdt.NewDoc(crdt.Options{ClientID: 1})
	text := d.Text("t")
	var state []byte
	for copies := 0; ; copies++ {
		base := text.Len()
		if err := replayInto(d, text, tr, base); err != nil {
			return nil, err
		}
		if copies == 0 && text.String() != tr.EndContent {
			return nil, fmt.Errorf("replay of %s does not give its endContent", tracePath)
		}
		if state, err = d.EncodeStateAsUpdate(nil); err != nil {
			return nil, err
		}
		if len(state) >= minBytes || copies > 1000 {
			break
		}
	}
	if err := os.MkdirAll(cacheDir, 0o755); err == nil {
		tmp := cache + ".tmp"
		if os.WriteFile(tmp, state, 0o644) == nil {
			_ = os.Rename(tmp, cache)
		}
	}
	return state, nil
}
