// Command tracereplay replays an editing trace (see crdt/testdata/traces)
// into a crdt.Doc, one local transaction per trace transaction, and prints
// as JSON the SHA-256 of every update the doc emitted, concatenated in
// order, of its final full state, and the final text. The Node test
// test/js/trace.test.mjs compares these with yjs replaying the same trace:
// equal hashes mean quire chose exactly yjs's origins for every keystroke,
// search markers included.
//
//	go run ./crdt/internal/tracereplay FILE.json.gz
package main

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/quirehq/quire/crdt"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tracereplay FILE.json.gz")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "tracereplay:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	var tr struct {
		EndContent string `json:"endContent"`
		Txns       []struct {
			Patches [][3]any `json:"patches"`
		} `json:"txns"`
	}
	if err := json.NewDecoder(zr).Decode(&tr); err != nil {
		return err
	}
	doc := crdt.NewDoc(crdt.Options{ClientID: 1})
	updates := sha256.New()
	n := 0
	doc.OnUpdate(func(u []byte) { updates.Write(u); n++ })
	text := doc.Text("text")
	var editErr error
	for _, txn := range tr.Txns {
		doc.Transact(func() {
			for _, p := range txn.Patches {
				pos, del, ins := int(p[0].(float64)), int(p[1].(float64)), p[2].(string)
				if del > 0 {
					if err := text.Delete(pos, del); err != nil && editErr == nil {
						editErr = err
					}
				}
				if ins != "" {
					if err := text.Insert(pos, ins, nil); err != nil && editErr == nil {
						editErr = err
					}
				}
			}
		})
	}
	if editErr != nil {
		return editErr
	}
	state, err := doc.EncodeStateAsUpdate(nil)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(state)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"updates":     n,
		"updatesHash": hex.EncodeToString(updates.Sum(nil)),
		"stateHash":   hex.EncodeToString(sum[:]),
		"textOK":      text.String() == tr.EndContent,
	})
}
