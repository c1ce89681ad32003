package crdt

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/quirehq/quire/crdt/lib0"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestDoc returns a doc whose transaction updates are collected.
func newTestDoc(client uint64, gc bool) (*Doc, *[][]byte) {
	d := NewDoc(Options{ClientID: client, NoGC: !gc})
	var ups [][]byte
	d.OnUpdate(func(u []byte) { ups = append(ups, append([]byte(nil), u...)) })
	return d, &ups
}

func mustState(t testing.TB, d *Doc) []byte {
	t.Helper()
	b, err := d.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The examples of docs/yjs-wire.md, printed by yjs 13.6.33.
func TestWireExamples(t *testing.T) {
	t.Run("A text insert", func(t *testing.T) {
		d, ups := newTestDoc(1, true)
		if err := d.Text("t").Insert(0, "abc", nil); err != nil {
			t.Fatal(err)
		}
		want := unhex(t, "01 01 01 00 04 01 01 74 03 61 62 63 00")
		if got := (*ups)[0]; !bytes.Equal(got, want) {
			t.Fatalf("update %x, want %x", got, want)
		}
		if got := mustState(t, d); !bytes.Equal(got, want) {
			t.Fatalf("state %x, want %x", got, want)
		}
		if got := d.EncodeStateVector(); !bytes.Equal(got, unhex(t, "01 01 03")) {
			t.Fatalf("sv %x", got)
		}
	})
	t.Run("B concurrent insert and delete", func(t *testing.T) {
		for _, gc := range []bool{true, false} {
			d, ups := newTestDoc(2, gc)
			if err := d.ApplyUpdate(unhex(t, "01 01 01 00 04 01 01 74 03 61 62 63 00")); err != nil {
				t.Fatal(err)
			}
			*ups = nil
			tx := d.Text("t")
			tx.Insert(1, "X", nil)
			tx.Delete(2, 2)
			if got := tx.String(); got != "aX" {
				t.Fatalf("text %q", got)
			}
			want := "02 | 01 02 00 c4 01 00 01 01 01 58 | 02 01 00 04 01 01 74 01 61 81 01 00 02 | 01 01 01 01 02"
			if !gc {
				want = "02 | 01 02 00 c4 01 00 01 01 01 58 | 02 01 00 04 01 01 74 01 61 84 01 00 02 62 63 | 01 01 01 01 02"
			}
			if got := mustState(t, d); !bytes.Equal(got, unhex(t, want)) {
				t.Fatalf("gc=%v state %x, want %s", gc, got, want)
			}
			if got := (*ups)[1]; !bytes.Equal(got, unhex(t, "00 01 01 01 01 02")) {
				t.Fatalf("delete update %x", got)
			}
		}
	})
	t.Run("C map", func(t *testing.T) {
		d, _ := newTestDoc(5, true)
		m := d.Map("m")
		m.Set("k", 1)
		m.Set("s", "hi")
		m.Set("k", -1.5)
		want := unhex(t, "01 03 05 00 | 21 01 01 6d 01 6b 01 | 28 01 01 6d 01 73 01 77 02 68 69 | a8 05 00 01 7c bf c0 00 00 | 01 05 01 00 01")
		if got := mustState(t, d); !bytes.Equal(got, want) {
			t.Fatalf("state %x, want %x", got, want)
		}
	})
	t.Run("D array of values and types", func(t *testing.T) {
		d, _ := newTestDoc(8, true)
		a := d.Array("a")
		m := NewMap()
		if err := a.Insert(0, 1, true, []byte{9}, m, NewXmlElement("p")); err != nil {
			t.Fatal(err)
		}
		if err := m.Set("x", nil); err != nil {
			t.Fatal(err)
		}
		want := unhex(t, "01 05 08 00 | 08 01 01 61 02 7d 01 78 | 83 08 01 01 09 | 87 08 02 01 | 87 08 03 03 01 70 | 28 00 08 03 01 78 01 7e | 00")
		if got := mustState(t, d); !bytes.Equal(got, want) {
			t.Fatalf("state %x, want %x", got, want)
		}
	})
	t.Run("E formatted insert", func(t *testing.T) {
		d, _ := newTestDoc(6, true)
		d.Text("t").Insert(0, "hi", Attrs{{"bold", true}})
		want := unhex(t, "01 03 06 00 | 06 01 01 74 04 626f6c64 04 74727565 | 84 06 00 02 68 69 | 86 06 02 04 626f6c64 04 6e756c6c | 00")
		if got := mustState(t, d); !bytes.Equal(got, want) {
			t.Fatalf("state %x, want %x", got, want)
		}
	})
	t.Run("F insert into deleted type", func(t *testing.T) {
		want := unhex(t, "02 | 01 02 00 00 01 | 02 01 00 01 01 01 61 01 00 02 | 02 02 01 00 01 01 01 00 03")
		d, _ := newTestDoc(1, true)
		if err := d.ApplyUpdate(want); err != nil {
			t.Fatal(err)
		}
		if got := mustState(t, d); !bytes.Equal(got, want) {
			t.Fatalf("state %x, want %x", got, want)
		}
	})
	t.Run("concurrent same spot: lower client first", func(t *testing.T) {
		a, ua := newTestDoc(1, true)
		b, ub := newTestDoc(300, true)
		a.Text("t").Insert(0, "x", nil)
		b.Text("t").Insert(0, "y", nil)
		a.ApplyUpdate((*ub)[0])
		b.ApplyUpdate((*ua)[0])
		if a.Text("t").String() != "xy" || b.Text("t").String() != "xy" {
			t.Fatalf("%q %q", a.Text("t").String(), b.Text("t").String())
		}
		if !bytes.Equal(mustState(t, a), mustState(t, b)) {
			t.Fatal("states differ")
		}
	})
}

// A doc loaded from an update knows its roots only by name; its JSON view
// infers each root's kind and must equal the view of the typed original.
func TestJSONInfersRootKinds(t *testing.T) {
	d := NewDoc(Options{ClientID: 3})
	d.Text("text").Insert(0, "hello", Attrs{{"bold", true}})
	m := d.Map("map")
	m.Set("n", 1.5)
	m.Set("o", map[string]any{"b": 1, "a": []any{true, nil}})
	nested := NewArray()
	m.Set("list", nested)
	nested.Insert(0, "x", 2)
	d.Array("array").Insert(0, 1, "two", NewText())
	x := d.XmlFragment("xml")
	p := NewXmlElement("paragraph")
	x.Insert(0, p)
	p.SetAttribute("level", 1)
	tx := NewXmlText()
	p.Insert(0, tx)
	tx.Insert(0, "hi", Attrs{{"italic", true}})
	d.Text("gone").Insert(0, "x", nil)
	d.Text("gone").Delete(0, 1)

	want := mustJSON(t, d)
	loaded := NewDoc(Options{ClientID: 4})
	if err := loaded.ApplyUpdate(mustState(t, d)); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, loaded); got != want {
		t.Fatalf("inferred JSON\n%s\nwant\n%s", got, want)
	}
	for name, kind := range map[string]string{"text": "Text", "map": "Map", "array": "Array", "xml": "XmlFragment", "nope": ""} {
		if got := loaded.RootKind(name); got != kind {
			t.Errorf("RootKind(%q) = %q, want %q", name, got, kind)
		}
	}
}

func mustJSON(t *testing.T, d *Doc) string {
	t.Helper()
	s, err := lib0.StringifyJSON(d.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Subdocuments are kept as references and encoded again unchanged (vectors
// printed by yjs 13.6.33: a map entry and an array element holding docs
// with options).
func TestSubdocumentsRoundTrip(t *testing.T) {
	v1 := unhex(t, "010201002901016d0373756203616263760202676379046d657461760101787d0109010161036465667601086175746f4c6f61647800")
	v2 := unhex(t, "00000101000003290009110b6d73756261626361646566014300010301010000010200760202676379046d657461760101787d017601086175746f4c6f61647800")
	for _, tc := range []struct {
		name   string
		apply  func(*Doc) error
		encode func(*Doc) ([]byte, error)
		want   []byte
	}{
		{"v1", func(d *Doc) error { return d.ApplyUpdate(v1) }, func(d *Doc) ([]byte, error) { return d.EncodeStateAsUpdate(nil) }, v1},
		{"v2", func(d *Doc) error { return d.ApplyUpdateV2(v2) }, func(d *Doc) ([]byte, error) { return d.EncodeStateAsUpdateV2(nil) }, v2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDoc(Options{ClientID: 5})
			if err := tc.apply(d); err != nil {
				t.Fatal(err)
			}
			got, err := tc.encode(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x\nwant %x", got, tc.want)
			}
			if j := mustJSON(t, d); j != `{"m":{"sub":{}},"a":[{}]}` {
				t.Fatalf("json %s", j)
			}
			v, ok := d.Map("m").Get("sub")
			if sd, isSub := v.(SubDoc); !ok || !isSub || sd.GUID != "abc" {
				t.Fatalf("sub = %#v", v)
			}
		})
	}
}

func TestApplyDelta(t *testing.T) {
	d := NewDoc(Options{ClientID: 1})
	text := d.Text("q")
	bold := lib0.NewObject()
	bold.Set("bold", true)
	img := lib0.NewObject()
	img.Set("image", "a.png")
	var n int
	d.OnUpdate(func([]byte) { n++ })
	err := text.ApplyDelta([]Delta{
		{Insert: "Hello "},
		{Insert: "world", Attributes: bold},
		{Insert: img},
		{Insert: "\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d updates, want one transaction", n)
	}
	if err := text.ApplyDelta([]Delta{{Retain: 2}, {Delete: 3}, {Retain: 1, Attributes: bold}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range text.ToDelta() {
		s := jsString(op.Insert)
		if op.Attributes != nil {
			j, _ := lib0.StringifyJSON(op.Attributes)
			s += j
		}
		got = append(got, s)
	}
	want := []string{"He", ` world{"bold":true}`, "[object Object]", "\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("delta %q, want %q", got, want)
	}
}
