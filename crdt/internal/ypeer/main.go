// Command ypeer plays replicas of the differential tests (test/js/difftest)
// with the Go crdt package. The Node harness starts it and talks JSON lines
// over stdin/stdout: one request per line, {"id":N,"cmd":...}, one response
// per line, {"id":N,"ok":true,...} or {"id":N,"ok":false,"error":"..."}.
// Binary data is standard base64.
//
// Commands:
//
//	new     {replica, clientID, gc}         create a replica (roots text, map, array, xml)
//	txn     {replica, ops}        → updates run ops in one transaction
//	apply   {replica, update, v2} → updates apply a v1 (or v2) update
//	sv      {replica}             → sv       encoded state vector
//	diff    {replica, sv, v2}     → update   EncodeStateAsUpdate(sv) (V2 if v2)
//	state   {replica}             → v1, v2, sv, json (ToJSON of the doc)
//	drop    {replica}                        forget a replica
//	reset                                    forget all replicas
//
// updates are the v1 updates the doc emitted (OnUpdate) while running the
// command, in order. The op language is described in
// test/js/difftest/README.md; yreplica.mjs is the yjs side of it, and both
// must interpret ops identically.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

type request struct {
	ID       int64             `json:"id"`
	Cmd      string            `json:"cmd"`
	Replica  string            `json:"replica"`
	ClientID uint64            `json:"clientID"`
	GC       bool              `json:"gc"`
	Ops      []json.RawMessage `json:"ops"`
	Update   string            `json:"update"`
	V2       bool              `json:"v2"`
	SV       string            `json:"sv"`
}

type response struct {
	ID      int64           `json:"id"`
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	Updates []string        `json:"updates,omitempty"`
	Update  string          `json:"update,omitempty"`
	SV      string          `json:"sv,omitempty"`
	V1      string          `json:"v1,omitempty"`
	V2      string          `json:"v2,omitempty"`
	JSON    json.RawMessage `json:"json,omitempty"`
}

type replica struct {
	doc *crdt.Doc
	out [][]byte
}

func (r *replica) take() []string {
	s := make([]string, len(r.out))
	for i, u := range r.out {
		s[i] = b64(u)
	}
	r.out = r.out[:0]
	return s
}

var (
	replicas = map[string]*replica{}
	b64      = base64.StdEncoding.EncodeToString
)

// With QUIRE_PEER_LOG=FILE every request is appended to FILE; feeding
// that file back on standard input replays a session outside Node, which is
// how a failing seed is debugged in Go.
func main() {
	var logf *os.File
	if p := os.Getenv("QUIRE_PEER_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ypeer:", err)
			os.Exit(1)
		}
		logf = f
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if logf != nil && len(line) > 0 {
			logf.Write(line)
		}
		if len(line) > 0 {
			var req request
			var res response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				res = response{ID: req.ID, Error: "bad request: " + jerr.Error()}
			} else {
				res = serve(&req)
			}
			res.ID = req.ID
			if res.Error == "" {
				res.OK = true
			}
			if err := enc.Encode(&res); err != nil {
				fmt.Fprintln(os.Stderr, "ypeer: encode response:", err)
				os.Exit(1)
			}
			if err := out.Flush(); err != nil {
				os.Exit(1) // the harness went away
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ypeer: read:", err)
			os.Exit(1)
		}
	}
}

// serve runs one command; panics in the crdt package become errors with a
// stack trace, so that one bad seed does not end the run.
func serve(req *request) (res response) {
	defer func() {
		if p := recover(); p != nil {
			res = response{Error: fmt.Sprintf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	if req.Cmd == "reset" {
		replicas = map[string]*replica{}
		return response{}
	}
	if req.Cmd == "new" {
		if _, ok := replicas[req.Replica]; ok {
			return response{Error: "replica exists: " + req.Replica}
		}
		r := &replica{doc: crdt.NewDoc(crdt.Options{ClientID: req.ClientID, NoGC: !req.GC})}
		r.doc.OnUpdate(func(u []byte) { r.out = append(r.out, append([]byte(nil), u...)) })
		// the roots exist from the start, as in the yjs replicas
		r.doc.Text("text")
		r.doc.Map("map")
		r.doc.Array("array")
		r.doc.XmlFragment("xml")
		replicas[req.Replica] = r
		return response{}
	}
	r, ok := replicas[req.Replica]
	if !ok {
		return response{Error: fmt.Sprintf("%s: no replica %q", req.Cmd, req.Replica)}
	}
	r.out = r.out[:0]
	switch req.Cmd {
	case "txn":
		ops := make([]op, len(req.Ops))
		for i, raw := range req.Ops {
			if err := json.Unmarshal(raw, &ops[i]); err != nil {
				return response{Error: fmt.Sprintf("op %d: %v", i, err)}
			}
		}
		var err error
		r.doc.Transact(func() {
			for i := range ops {
				if e := applyOp(r.doc, &ops[i]); e != nil && err == nil {
					err = fmt.Errorf("op %d %s: %w", i, req.Ops[i], e)
				}
			}
		})
		if err != nil {
			return response{Error: err.Error(), Updates: r.take()}
		}
		return response{Updates: r.take()}
	case "apply":
		u, err := base64.StdEncoding.DecodeString(req.Update)
		if err != nil {
			return response{Error: "bad base64: " + err.Error()}
		}
		if req.V2 {
			err = r.doc.ApplyUpdateV2(u)
		} else {
			err = r.doc.ApplyUpdate(u)
		}
		if err != nil {
			return response{Error: "ApplyUpdate: " + err.Error(), Updates: r.take()}
		}
		return response{Updates: r.take()}
	case "sv":
		return response{SV: b64(r.doc.EncodeStateVector())}
	case "diff":
		sv, err := base64.StdEncoding.DecodeString(req.SV)
		if err != nil {
			return response{Error: "bad base64: " + err.Error()}
		}
		var d []byte
		if req.V2 {
			d, err = r.doc.EncodeStateAsUpdateV2(sv)
		} else {
			d, err = r.doc.EncodeStateAsUpdate(sv)
		}
		if err != nil {
			return response{Error: "EncodeStateAsUpdate: " + err.Error()}
		}
		return response{Update: b64(d)}
	case "state":
		v1, err := r.doc.EncodeStateAsUpdate(nil)
		if err != nil {
			return response{Error: "EncodeStateAsUpdate: " + err.Error()}
		}
		v2, err := r.doc.EncodeStateAsUpdateV2(nil)
		if err != nil {
			return response{Error: "EncodeStateAsUpdateV2: " + err.Error()}
		}
		js, err := lib0.StringifyJSON(r.doc.ToJSON())
		if err != nil {
			return response{Error: "ToJSON: " + err.Error()}
		}
		return response{V1: b64(v1), V2: b64(v2), SV: b64(r.doc.EncodeStateVector()), JSON: json.RawMessage(js)}
	case "drop":
		delete(replicas, req.Replica)
		return response{}
	}
	return response{Error: "unknown command " + req.Cmd}
}

// ---- the op language --------------------------------------------------

type op struct {
	T     []json.RawMessage `json:"t"`
	Op    string            `json:"op"`
	At    uint32            `json:"at"`
	N     int               `json:"n"`
	S     string            `json:"s"`
	A     json.RawMessage   `json:"a"`
	E     json.RawMessage   `json:"e"`
	K     string            `json:"k"`
	V     json.RawMessage   `json:"v"`
	Nodes []struct {
		E *string `json:"e"`
		X int     `json:"x"`
	} `json:"nodes"`
}

type step struct {
	K *string `json:"k"`
	I *uint32 `json:"i"`
	W string  `json:"w"`
}

// fracIndex is floor(u/2^32 * (n+1)): a position in 0..n.
func fracIndex(u uint32, n int) int { return int(uint64(u) * uint64(n+1) >> 32) }

// fracElem is floor(u/2^32 * n): an element of 0..n-1.
func fracElem(u uint32, n int) int { return int(uint64(u) * uint64(n) >> 32) }

// kind names the shared types the ops know; "" for anything else.
func kind(v any) string {
	switch v.(type) {
	case *crdt.XmlText:
		return "xmltext"
	case *crdt.Text:
		return "text"
	case *crdt.XmlElement:
		return "elem"
	case *crdt.XmlFragment:
		return "frag"
	case *crdt.Array:
		return "array"
	case *crdt.Map:
		return "map"
	}
	return ""
}

func wants(k, w string) bool {
	if w == "text" {
		return k == "text" || k == "xmltext"
	}
	return k == w
}

func children(v any) []any {
	switch x := v.(type) {
	case *crdt.Array:
		return x.Values()
	case *crdt.XmlElement:
		return x.Children()
	case *crdt.XmlFragment:
		return x.Children()
	}
	return nil
}

// resolve walks a path; nil when it does not resolve.
func resolve(doc *crdt.Doc, path []json.RawMessage) (any, error) {
	if len(path) == 0 {
		return nil, errors.New("empty path")
	}
	var root string
	if err := json.Unmarshal(path[0], &root); err != nil {
		return nil, fmt.Errorf("path root: %w", err)
	}
	var cur any
	switch root {
	case "text":
		cur = doc.Text("text")
	case "map":
		cur = doc.Map("map")
	case "array":
		cur = doc.Array("array")
	case "xml":
		cur = doc.XmlFragment("xml")
	default:
		return nil, fmt.Errorf("bad root %q", root)
	}
	for _, raw := range path[1:] {
		var s step
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("path step: %w", err)
		}
		k := kind(cur)
		var next any
		switch {
		case s.K != nil:
			if k != "map" {
				return nil, nil
			}
			v, ok := cur.(*crdt.Map).Get(*s.K)
			if !ok {
				return nil, nil
			}
			next = v
		case s.I != nil:
			if k != "array" && k != "frag" && k != "elem" {
				return nil, nil
			}
			var cands []any
			for _, c := range children(cur) {
				if wants(kind(c), s.W) {
					cands = append(cands, c)
				}
			}
			if len(cands) == 0 {
				return nil, nil
			}
			next = cands[fracElem(*s.I, len(cands))]
		default:
			return nil, fmt.Errorf("bad path step %s", raw)
		}
		if kind(next) == "" {
			return nil, nil
		}
		cur = next
	}
	return cur, nil
}

func textOf(v any) *crdt.Text {
	switch x := v.(type) {
	case *crdt.Text:
		return x
	case *crdt.XmlText:
		return &x.Text
	}
	return nil
}

// attrs parses text attributes; absent (no "a" field) is nil.
func attrs(raw json.RawMessage) (crdt.Attrs, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := lib0.ParseJSON(string(raw))
	if err != nil {
		return nil, err
	}
	o, ok := v.(*lib0.Object)
	if !ok {
		return nil, fmt.Errorf("attributes %s are not an object", raw)
	}
	a := crdt.Attrs{}
	for _, k := range o.Keys() {
		v, _ := o.Get(k)
		a = append(a, crdt.Attr{Key: k, Value: v})
	}
	return a, nil
}

// value is {"j": json} or {"y": "text"|"map"|"array"}.
func value(raw json.RawMessage) (any, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if y, ok := v["y"]; ok {
		var name string
		if err := json.Unmarshal(y, &name); err != nil {
			return nil, err
		}
		switch name {
		case "text":
			return crdt.NewText(), nil
		case "map":
			return crdt.NewMap(), nil
		case "array":
			return crdt.NewArray(), nil
		}
		return nil, fmt.Errorf("bad type %q", name)
	}
	j, ok := v["j"]
	if !ok {
		return nil, fmt.Errorf("bad value %s", raw)
	}
	return lib0.ParseJSON(string(j))
}

func applyOp(doc *crdt.Doc, o *op) error {
	t, err := resolve(doc, o.T)
	if err != nil || t == nil {
		return err
	}
	k := kind(t)
	text := textOf(t)
	switch o.Op {
	case "ins":
		if text == nil {
			return nil
		}
		a, err := attrs(o.A)
		if err != nil {
			return err
		}
		return text.Insert(fracIndex(o.At, text.Len()), o.S, a)
	case "emb":
		if text == nil {
			return nil
		}
		a, err := attrs(o.A)
		if err != nil {
			return err
		}
		e, err := lib0.ParseJSON(string(o.E))
		if err != nil {
			return err
		}
		return text.InsertEmbed(fracIndex(o.At, text.Len()), e, a)
	case "fmt":
		if text == nil {
			return nil
		}
		a, err := attrs(o.A)
		if err != nil {
			return err
		}
		n := text.Len()
		i := fracIndex(o.At, n)
		if m := min(o.N, n-i); m > 0 {
			return text.Format(i, m, a)
		}
		return nil
	case "del":
		var n int
		switch {
		case text != nil:
			n = text.Len()
		case k == "array":
			n = t.(*crdt.Array).Len()
		case k == "frag":
			n = t.(*crdt.XmlFragment).Len()
		case k == "elem":
			n = t.(*crdt.XmlElement).Len()
		default:
			return nil
		}
		i := fracIndex(o.At, n)
		m := min(o.N, n-i)
		if m <= 0 {
			return nil
		}
		switch {
		case text != nil:
			return text.Delete(i, m)
		case k == "array":
			return t.(*crdt.Array).Delete(i, m)
		case k == "frag":
			return t.(*crdt.XmlFragment).Delete(i, m)
		default:
			return t.(*crdt.XmlElement).Delete(i, m)
		}
	case "set":
		if k != "map" {
			return nil
		}
		v, err := value(o.V)
		if err != nil {
			return err
		}
		return t.(*crdt.Map).Set(o.K, v)
	case "unset":
		if k != "map" {
			return nil
		}
		t.(*crdt.Map).Delete(o.K)
		return nil
	case "push":
		if k != "array" {
			return nil
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(o.V, &raws); err != nil {
			return err
		}
		vals := make([]any, len(raws))
		for i, raw := range raws {
			if vals[i], err = value(raw); err != nil {
				return err
			}
		}
		a := t.(*crdt.Array)
		return a.Insert(fracIndex(o.At, a.Len()), vals...)
	case "xins":
		if k != "frag" && k != "elem" {
			return nil
		}
		nodes := make([]any, len(o.Nodes))
		for i, n := range o.Nodes {
			if n.E != nil {
				nodes[i] = crdt.NewXmlElement(*n.E)
			} else {
				nodes[i] = crdt.NewXmlText()
			}
		}
		if k == "frag" {
			f := t.(*crdt.XmlFragment)
			return f.Insert(fracIndex(o.At, f.Len()), nodes...)
		}
		e := t.(*crdt.XmlElement)
		return e.Insert(fracIndex(o.At, e.Len()), nodes...)
	case "attr":
		if k != "elem" {
			return nil
		}
		v, err := lib0.ParseJSON(string(o.V))
		if err != nil {
			return err
		}
		return t.(*crdt.XmlElement).SetAttribute(o.K, v)
	case "rmattr":
		if k != "elem" {
			return nil
		}
		t.(*crdt.XmlElement).RemoveAttribute(o.K)
		return nil
	}
	return fmt.Errorf("unknown op %q", o.Op)
}
