package crdt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime/metrics"
	"strings"
	"testing"
	"unsafe"

	"github.com/quirehq/quire/crdt/lib0"
)

func codecHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type codecFormat struct {
	name      string
	newEnc    func() updateEncoder
	newDec    func([]byte) updateDecoder
	newDSEnc  func() dsEncoder
	newDSDec  func([]byte) dsDecoder
	vectorIdx int // which hex of a codecVector is in this format
}

var codecFormats = []codecFormat{
	{"v1", newUpdateEncoderV1, newUpdateDecoderV1, newDSEncoderV1, newDSDecoderV1, 0},
	{"v2", newUpdateEncoderV2, newUpdateDecoderV2, newDSEncoderV2, newDSDecoderV2, 1},
}

// TestCodecExampleA writes docs/yjs-wire.md example A (client 1 inserts
// "abc" into text "t") with the calls yjs' writeClientsStructs and
// Item.write make, in both formats.
func TestCodecExampleA(t *testing.T) {
	want := map[string]string{
		"v1": "01 01 01 00 04 01 01 74 03 61 62 63 00",
		"v2": "00 00 01 01 00 00 01 04 07 04 74 61 62 63 01 03 01 01 00 00 01 01 00 00",
	}
	for _, f := range codecFormats {
		e := f.newEnc()
		e.rest().WriteVarUint(1) // clients
		e.rest().WriteVarUint(1) // structs of client 1
		e.writeClient(1)
		e.rest().WriteVarUint(0) // first clock
		e.writeInfo(4)           // String, no origins, no parentSub
		e.writeParentInfo(true)
		e.writeString("t")
		e.writeString("abc")
		e.rest().WriteVarUint(0) // empty delete set
		if got, w := hex.EncodeToString(e.toBytes()), strings.ReplaceAll(want[f.name], " ", ""); got != w {
			t.Errorf("%s: got %s, want %s", f.name, got, w)
		}

		d := f.newDec(codecHex(t, want[f.name]))
		r := d.rest()
		nClients, nStructs, client, clock := r.ReadVarUint(), r.ReadVarUint(), d.readClient(), r.ReadVarUint()
		info, isKey, parent, text := d.readInfo(), d.readParentInfo(), d.readString(), d.readString()
		dsClients := r.ReadVarUint()
		if nClients != 1 || nStructs != 1 || client != 1 || clock != 0 || info != 4 || !isKey ||
			parent != "t" || text != "abc" || dsClients != 0 || d.err() != nil || r.Remaining() != 0 {
			t.Errorf("%s: decoded %d %d %d %d %d %v %q %q %d, err %v, %d left", f.name,
				nClients, nStructs, client, clock, info, isKey, parent, text, dsClients, d.err(), r.Remaining())
		}
	}
}

// codecVectors are updates printed by yjs 13.6.33 in v1 and v2: the
// examples of docs/yjs-wire.md section 2 converted with
// Y.convertUpdateFormatV1ToV2 (C from encodeStateAsUpdateV2, because the
// converter drops the parentSub flag of items with an origin), a legacy
// JSON item, and a document using every content type.
var codecVectors = []struct{ name, v1, v2 string }{
	{"A",
		"01010100040101740361626300",
		"000001010000010407047461626301030101000001010000"},
	{"B",
		"02010200c4010001010158020100040101740161810100020101010102",
		"000003024102020100010205c40004008106035874614101010100010202010002000101010101"},
	{"B-gcoff",
		"02010200c40100010101580201000401017401618401000262630101010102",
		"000003024102020100010205c400040084090558746162634101020101000002010002000101010101"},
	{"B-ds",
		"000101010102",
		"0000000000000100000000000101010101"},
	{"C",
		"010305002101016d016b012801016d01730177026869a80500017cbfc000000105010001",
		"00000245000100000521002800a807046d6b6d734102010100024101010300770268697cbfc000000105010000"},
	{"D",
		"0105080008010161027d0178830801010987080201870803030170280008030178017e00",
		"0001000248030303010000070800830087012806036170784101030100000201030202010105007d017801097e00"},
	{"E",
		"010306000601017404626f6c64047472756584060002686986060204626f6c64046e756c6c00",
		"0002000202460102000400050600840086100b74626f6c646869626f6c640104020401010000010300787e00"},
	{"F",
		"02010200000102010001010161010002020201000101010003",
		"0000020201000005000001000003016101010100034100020201000200020201000001010002"},
	{"G",
		"010301000401017401610a01840101016300",
		"00000241000102000504000a008406037461634101010100000103000100"},
	{"json",
		"010103000201016102117b2232223a5b312e355d2c2262223a317d09756e646566696e656400",
		"00000103000001021f1b617b2232223a5b312e355d2c2262223a317d756e646566696e6564011109010100010201010000"},
	{"complex",
		"0202e0a71200c406140615037a7a7a48060b1e7d007d037d067d097d0c7d0f7d127d157d187d1b7d1e7d217d247d277d2a7d2d7d307d337d367d397d3c7d3f7d82017d85017d88017d8b017d8e017d91017d94017d97011506000601017404626f6c64047472756581060001840601016986060204626f6c64046e756c6c2101016d016b0107010178030170870605030170870606060400060701712800060505636c61737301770163070006050502686b0301016102010281060b0388060e037c538000007e760501317d02017a7d01036269677a100000000000000001757f016e7b7ff80000000000008506030d7b22696d67223a22737263227d41060002c40614060003efbfbdc4061506000179460613066974616c6963052279657322c606150616066974616c6963046e756c6c2901016d0373756203672d317600010604010104010c031302",
		"000300030405a0cf2446150f2868030006030044000c0656220200072a54560100260629c4004800060081008400860021000700870104002800070003008100880085004100c4014600c6002943327a7a7a74626f6c6469626f6c646d6b78707071636c617373686b61efbfbd796974616c69636974616c69636d737562672d31030104010441040502410146000143000501020002010443000605061e41014300020202007d007d037d067d097d0c7d0f7d127d157d187d1b7d1e7d217d247d277d2a7d2d7d307d337d367d397d3c7d3f7d82017d85017d88017d8b017d8e017d91017d94017d97011500787e7701630201027c538000007e760501317d02017a7d01036269677a100000000000000001757f016e7b7ff8000000000000760103696d67770373726377037965737e76000106040100020007020401"},
}

// codecStruct is just enough of a struct to carry it from one format to
// the other, in the order yjs reads and writes the fields.
type codecStep struct {
	kind string // method name
	u    uint64
	id   ID
	b    byte
	s    string
	buf  []byte
	v    lib0.Any
}

// readUpdateSteps decodes an update the way yjs' readClientsStructRefs,
// the read*Content functions and readDeleteSet do, recording every field.
// It stops after maxStructs structs: v2 run lengths let a few bytes claim
// billions of empty structs.
func readUpdateSteps(d updateDecoder, maxStructs int) ([]codecStep, error) {
	var steps []codecStep
	rest := func(v uint64) uint64 { steps = append(steps, codecStep{kind: "rest", u: v}); return v }
	r := d.rest()
	total := 0
	for range rest(r.ReadVarUint()) {
		if d.err() != nil {
			return steps, d.err()
		}
		n := rest(r.ReadVarUint())
		steps = append(steps, codecStep{kind: "client", u: d.readClient()})
		rest(r.ReadVarUint())
		for range n {
			if total++; total > maxStructs || d.err() != nil {
				return steps, fmt.Errorf("too many structs or %v", d.err())
			}
			info := d.readInfo()
			steps = append(steps, codecStep{kind: "info", b: info})
			switch info & 0x1f {
			case 0:
				steps = append(steps, codecStep{kind: "len", u: d.readLen()})
				continue
			case 10:
				rest(r.ReadVarUint())
				continue
			}
			if info&0x80 != 0 {
				steps = append(steps, codecStep{kind: "left", id: d.readLeftID()})
			}
			if info&0x40 != 0 {
				steps = append(steps, codecStep{kind: "right", id: d.readRightID()})
			}
			if info&0xc0 == 0 {
				isKey := d.readParentInfo()
				var b byte
				if isKey {
					b = 1
				}
				steps = append(steps, codecStep{kind: "parentInfo", b: b})
				if isKey {
					steps = append(steps, codecStep{kind: "string", s: d.readString()})
				} else {
					steps = append(steps, codecStep{kind: "left", id: d.readLeftID()})
				}
				if info&0x20 != 0 {
					steps = append(steps, codecStep{kind: "string", s: d.readString()})
				}
			}
			switch info & 0x1f {
			case 1: // Deleted
				steps = append(steps, codecStep{kind: "len", u: d.readLen()})
			case 2: // JSON
				n := d.readLen()
				steps = append(steps, codecStep{kind: "len", u: n})
				for i := uint64(0); i < n && d.err() == nil; i++ {
					steps = append(steps, codecStep{kind: "stringBytes", buf: d.readStringBytes()})
				}
			case 3: // Binary
				steps = append(steps, codecStep{kind: "buf", buf: d.readBuf()})
			case 4: // String
				steps = append(steps, codecStep{kind: "stringBytes", buf: d.readStringBytes()})
			case 5: // Embed
				steps = append(steps, codecStep{kind: "json", v: d.readJSON()})
			case 6: // Format
				steps = append(steps, codecStep{kind: "key", s: d.readKey()})
				steps = append(steps, codecStep{kind: "json", v: d.readJSON()})
			case 7: // Type
				ref := d.readTypeRef()
				steps = append(steps, codecStep{kind: "typeRef", b: ref})
				if ref == 3 || ref == 5 {
					steps = append(steps, codecStep{kind: "key", s: d.readKey()})
				}
			case 8: // Any
				n := d.readLen()
				steps = append(steps, codecStep{kind: "len", u: n})
				for i := uint64(0); i < n && d.err() == nil; i++ {
					steps = append(steps, codecStep{kind: "any", v: d.readAny()})
				}
			case 9: // Doc
				steps = append(steps, codecStep{kind: "string", s: d.readString()})
				steps = append(steps, codecStep{kind: "any", v: d.readAny()})
			default:
				return steps, fmt.Errorf("content ref %d", info&0x1f)
			}
		}
	}
	for range rest(r.ReadVarUint()) {
		if d.err() != nil {
			break
		}
		d.resetDsCurVal()
		steps = append(steps, codecStep{kind: "dsReset"})
		rest(r.ReadVarUint())
		for range rest(r.ReadVarUint()) {
			if d.err() != nil {
				break
			}
			steps = append(steps, codecStep{kind: "dsClock", u: d.readDsClock()})
			steps = append(steps, codecStep{kind: "dsLen", u: d.readDsLen()})
		}
	}
	return steps, d.err()
}

func writeUpdateSteps(e updateEncoder, steps []codecStep) {
	for _, s := range steps {
		switch s.kind {
		case "rest":
			e.rest().WriteVarUint(s.u)
		case "client":
			e.writeClient(s.u)
		case "info":
			e.writeInfo(s.b)
		case "len":
			e.writeLen(s.u)
		case "left":
			e.writeLeftID(s.id)
		case "right":
			e.writeRightID(s.id)
		case "parentInfo":
			e.writeParentInfo(s.b == 1)
		case "string":
			e.writeString(s.s)
		case "stringBytes":
			e.writeStringBytes(s.buf)
		case "buf":
			e.writeBuf(s.buf)
		case "json":
			e.writeJSON(s.v)
		case "key":
			e.writeKey(s.s)
		case "typeRef":
			e.writeTypeRef(s.b)
		case "any":
			e.writeAny(s.v)
		case "dsReset":
			e.resetDsCurVal()
		case "dsClock":
			e.writeDsClock(s.u)
		case "dsLen":
			e.writeDsLen(s.u)
		default:
			panic(s.kind)
		}
	}
}

func TestCodecTranscode(t *testing.T) {
	for _, vec := range codecVectors {
		for _, from := range codecFormats {
			in := codecHex(t, []string{vec.v1, vec.v2}[from.vectorIdx])
			d := from.newDec(in)
			steps, err := readUpdateSteps(d, 1<<20)
			if err != nil {
				t.Errorf("%s from %s: %v", vec.name, from.name, err)
				continue
			}
			if d.rest().Remaining() != 0 {
				t.Errorf("%s from %s: %d bytes left", vec.name, from.name, d.rest().Remaining())
			}
			for _, to := range codecFormats {
				e := to.newEnc()
				writeUpdateSteps(e, steps)
				want := []string{vec.v1, vec.v2}[to.vectorIdx]
				if got := hex.EncodeToString(e.toBytes()); got != want {
					t.Errorf("%s %s->%s:\n got %s\nwant %s", vec.name, from.name, to.name, got, want)
				}
			}
		}
	}
}

func TestCodecDeleteSet(t *testing.T) {
	// {5: [0,+1), [3,+2); 2: [10,+1)} as yjs' writeDeleteSet emits it.
	want := map[string]string{"v1": "02 05 02 00 01 03 02 02 01 0a 01", "v2": "02 05 02 00 00 02 01 02 01 0a 00"}
	type rng struct{ clock, n uint64 }
	ds := []struct {
		client uint64
		ranges []rng
	}{{5, []rng{{0, 1}, {3, 2}}}, {2, []rng{{10, 1}}}}
	for _, f := range codecFormats {
		for _, e := range []dsEncoder{f.newDSEnc(), f.newEnc()} {
			e.rest().WriteVarUint(uint64(len(ds)))
			for _, c := range ds {
				e.resetDsCurVal()
				e.rest().WriteVarUint(c.client)
				e.rest().WriteVarUint(uint64(len(c.ranges)))
				for _, r := range c.ranges {
					e.writeDsClock(r.clock)
					e.writeDsLen(r.n)
				}
			}
			got := e.toBytes()
			if _, isUpdate := e.(updateEncoder); isUpdate {
				if f.name == "v2" {
					// Nine empty columns (the string column holds an empty
					// varString) and the feature flag come first.
					got = got[len("0000000000000100000000")/2:]
				}
			}
			if w := strings.ReplaceAll(want[f.name], " ", ""); hex.EncodeToString(got) != w {
				t.Errorf("%s %T: got %x, want %s", f.name, e, got, w)
			}
		}
		d := f.newDSDec(codecHex(t, want[f.name]))
		r := d.rest()
		var got []uint64
		for range r.ReadVarUint() {
			d.resetDsCurVal()
			got = append(got, r.ReadVarUint())
			for range r.ReadVarUint() {
				got = append(got, d.readDsClock(), d.readDsLen())
			}
		}
		if fmt.Sprint(got) != "[5 0 1 3 2 2 10 1]" || d.err() != nil || r.Remaining() != 0 {
			t.Errorf("%s: decoded %v, %v", f.name, got, d.err())
		}
	}
	// Ranges yjs would never write (they can only come from a malformed
	// peer) are normalised instead of panicking: an empty range becomes
	// length 1, an unsorted one starts where the previous one ended.
	e := newDSEncoderV2()
	e.writeDsClock(3)
	e.writeDsLen(0)
	e.writeDsClock(2)
	e.writeDsLen(2)
	if got := hex.EncodeToString(e.toBytes()); got != "03000001" {
		t.Errorf("normalised ranges: %s", got)
	}
	// v2 clocks are deltas: they must stay within JavaScript's safe range.
	d := newDSDecoderV2(codecHex(t, "ffffffffffffff0f ffffffffffffff0f"))
	d.readDsClock()
	d.readDsClock()
	if !errors.Is(d.err(), lib0.ErrInvalid) {
		t.Errorf("overflowing ds clock: %v", d.err())
	}
}

func TestCodecJSON(t *testing.T) {
	o := lib0.NewObject()
	o.Set("b", 1.0)
	o.Set("2", []lib0.Any{"x", lib0.Undefined})
	o.Set("u", lib0.Undefined)
	for _, tc := range []struct {
		v      lib0.Any
		v1, v2 string
		back   string // JSON of what v1 reads back
	}{
		{o, `{"2":["x",null],"b":1}`, "760301327502770178 7f 0162 7d01 0175 7f", `{"2":["x",null],"b":1}`},
		{nil, "null", "7e", "null"},
		{lib0.Undefined, "undefined", "7f", ""},
		{0.0, "0", "7d00", "0"},
		{math.Copysign(0, -1), "0", "7d40", "0"},
	} {
		e1 := newUpdateEncoderV1()
		e1.writeJSON(tc.v)
		var w1 lib0.Encoder
		w1.WriteVarString(tc.v1)
		if got, wantV1 := hex.EncodeToString(e1.toBytes()), hex.EncodeToString(w1.Bytes()); got != wantV1 {
			t.Errorf("v1 writeJSON(%v) = %s, want %s", tc.v, got, wantV1)
		}
		d1 := newUpdateDecoderV1(e1.toBytes())
		v := d1.readJSON()
		if d1.err() != nil {
			t.Errorf("v1 readJSON: %v", d1.err())
		}
		if tc.back == "" {
			if v != lib0.Undefined {
				t.Errorf("v1 readJSON(undefined) = %#v", v)
			}
		} else if s, _ := lib0.StringifyJSON(v); s != tc.back {
			t.Errorf("v1 readJSON = %s, want %s", s, tc.back)
		}
		e2 := newUpdateEncoderV2()
		e2.writeJSON(tc.v)
		var want lib0.Encoder
		want.WriteBytes(codecHex(t, "0000000000000100000000"))
		want.WriteBytes(codecHex(t, tc.v2))
		if !bytes.Equal(e2.toBytes(), want.Bytes()) {
			t.Errorf("v2 writeJSON(%v) = %x, want %x", tc.v, e2.toBytes(), want.Bytes())
		}
	}
	d := newUpdateDecoderV1(codecHex(t, "03 7b 61 7d")) // "{a}"
	if d.readJSON(); !errors.Is(d.err(), lib0.ErrInvalid) {
		t.Errorf("bad JSON: %v", d.err())
	}
}

func TestCodecV2Keys(t *testing.T) {
	e := newUpdateEncoderV2()
	for _, k := range []string{"bold", "bold", "p"} {
		e.writeKey(k)
	}
	// yjs never reuses key clocks (its key cache is disabled): 0, 1, 2.
	want := "00 03000300 00 00 00 00 0d09626f6c64626f6c6470440001 00 00 00"
	if got := hex.EncodeToString(e.toBytes()); got != strings.ReplaceAll(want, " ", "") {
		t.Errorf("got %s, want %s", got, want)
	}
	d := newUpdateDecoderV2(e.toBytes())
	if a, b, c := d.readKey(), d.readKey(), d.readKey(); a != "bold" || b != "bold" || c != "p" || d.err() != nil {
		t.Errorf("read %q %q %q %v", a, b, c, d.err())
	}
	// A known key clock names an earlier key without reading a string:
	// keyClock column [0, 0, 1], strings ["k", "q"].
	d = newUpdateDecoderV2(codecHex(t, "00 03010002 00 00 00 00 05026b714100 00 00 00"))
	if a, b, c := d.readKey(), d.readKey(), d.readKey(); a != "k" || b != "k" || c != "q" || d.err() != nil {
		t.Errorf("cached keys: %q %q %q %v", a, b, c, d.err())
	}
	// A negative key clock is an error, not an index.
	d = newUpdateDecoderV2(codecHex(t, "00 0142 00 00 00 00 03016b01 00 00 00"))
	if d.readKey(); !errors.Is(d.err(), lib0.ErrInvalid) {
		t.Errorf("negative key clock: %v", d.err())
	}
}

func TestCodecErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		read func(updateDecoder)
		want error
	}{
		{"v1 truncated id", "01", func(d updateDecoder) { d.readLeftID() }, lib0.ErrUnexpectedEOF},
		{"v1 typeRef > 255", "8002", func(d updateDecoder) { d.readTypeRef() }, lib0.ErrInvalid},
		{"v1 bad utf-8", "01ff", func(d updateDecoder) { d.readStringBytes() }, lib0.ErrInvalid},
		{"v2 missing columns", "00 00 00", func(updateDecoder) {}, lib0.ErrUnexpectedEOF},
		{"v2 empty string column", "00 00 00 00 00 00 00 00 00 00", func(updateDecoder) {}, lib0.ErrUnexpectedEOF},
		{"v2 bad utf-8 in strings", "00 00 00 00 00 00 03 01ff00 00 00 00", func(updateDecoder) {}, lib0.ErrInvalid},
		{"v2 client column exhausted", "00 00 01 01 00 00 00 01 00 00 00 00", func(d updateDecoder) { d.readClient(); d.readClient() }, lib0.ErrUnexpectedEOF},
		{"v2 info column empty", "00 00 00 00 00 00 01 00 00 00 00", func(d updateDecoder) { d.readInfo() }, lib0.ErrUnexpectedEOF},
		{"v2 negative clock", "00 00 0101 0142 00 00 0100 00 00 00", func(d updateDecoder) { d.readLeftID() }, lib0.ErrInvalid},
		{"v2 string longer than text", "00 00 00 00 00 00 03 01 61 02 00 00 00", func(d updateDecoder) { d.readString() }, lib0.ErrInvalid},
		{"v2 typeRef > 255", "00 00 00 00 00 00 0100 00 028004 00", func(d updateDecoder) { d.readTypeRef() }, lib0.ErrInvalid},
		{"v2 ds after column error", "00 00 00 00 00 00 01 00 00 00 00 05", func(d updateDecoder) { d.readLen(); d.readDsClock() }, lib0.ErrUnexpectedEOF},
	} {
		var d updateDecoder
		if strings.HasPrefix(tc.name, "v1") {
			d = newUpdateDecoderV1(codecHex(t, tc.in))
		} else {
			d = newUpdateDecoderV2(codecHex(t, tc.in))
		}
		tc.read(d)
		if !errors.Is(d.err(), tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, d.err(), tc.want)
		}
		// Everything after the first error reads as zero.
		if d.readClient() != 0 || d.readString() != "" || d.readAny() != nil || d.readDsLen() != 0 || d.rest().Remaining() != 0 {
			t.Errorf("%s: reads after the error returned data", tc.name)
		}
	}
}

func TestCodecStringBytes(t *testing.T) {
	for _, f := range codecFormats {
		e := f.newEnc()
		e.writeStringBytes([]byte("hé"))
		e.writeStringBytes([]byte("a\xffb")) // repaired like TextEncoder would
		e.writeString("😀")
		e.writeBuf([]byte{7})
		in := e.toBytes()
		d := f.newDec(in)
		a, b, c := d.readStringBytes(), d.readStringBytes(), d.readStringBytes()
		buf := d.readBuf()
		if string(a) != "hé" || string(b) != "a\uFFFDb" || string(c) != "😀" || !bytes.Equal(buf, []byte{7}) || d.err() != nil {
			t.Errorf("%s: %q %q %q %v %v", f.name, a, b, c, buf, d.err())
		}
		if cap(a) != len(a) {
			t.Errorf("%s: readStringBytes not capped", f.name)
		}
		buf[0] = 9
		if !bytes.Contains(in, []byte{1, 7}) {
			t.Errorf("%s: readBuf aliases the input", f.name)
		}
	}
}

// FuzzCodecUpdateDecoderV2 drives the v2 decoder with arbitrary bytes and
// an arbitrary sequence of a few hundred field reads, then as a whole
// update: it must never panic, every value read after an error must be
// zero, and the decoder must not allocate much more than the input.
func FuzzCodecUpdateDecoderV2(f *testing.F) {
	for _, vec := range codecVectors {
		f.Add(codecHex(f, vec.v2), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	}
	f.Add(codecHex(f, "00 00 00 00 00 01 06 00 00 00 00 07 ffffffffffffff0f"), []byte{17})
	f.Fuzz(func(t *testing.T, data, ops []byte) {
		var allocs uint64
		limit := uint64(1<<20 + 1024*len(data))
		allocs = codecAllocatedBy(func() {
			d := newUpdateDecoderV2(data)
			for i := 0; i < 300; i++ {
				op := byte(i)
				if len(ops) > 0 {
					op = ops[i%len(ops)]
				}
				zero := codecReadOp(d, op%19)
				if d.err() != nil && !zero {
					t.Fatalf("op %d returned data after error %v", op%19, d.err())
				}
			}
		})
		if allocs > limit {
			t.Fatalf("field reads allocated %d bytes for %d input bytes", allocs, len(data))
		}
		var steps []codecStep
		var err error
		allocs = codecAllocatedBy(func() { steps, err = readUpdateSteps(newUpdateDecoderV2(data), 2000) })
		// The recording of the walk is the test's, not the decoder's: up
		// to 2000 structs of a few steps each, in a slice grown by append
		// (a factor of 1.25 once large, so its garbage adds up to about
		// five times its final size).
		recorded := 6 * uint64(cap(steps)) * uint64(unsafe.Sizeof(codecStep{}))
		if allocs > limit+recorded {
			t.Fatalf("update walk allocated %d bytes for %d input bytes", allocs, len(data))
		}
		if err != nil {
			return
		}
		// A readable update transcodes to v1 and back to a fixed point.
		e2 := newUpdateEncoderV2()
		writeUpdateSteps(e2, steps)
		e1 := newUpdateEncoderV1()
		writeUpdateSteps(e1, steps)
		steps1, err := readUpdateSteps(newUpdateDecoderV1(e1.toBytes()), 2000)
		if err != nil {
			t.Fatalf("re-reading v1: %v", err)
		}
		e2b := newUpdateEncoderV2()
		writeUpdateSteps(e2b, steps1)
		if !bytes.Equal(e2.toBytes(), e2b.toBytes()) {
			t.Fatalf("v2 -> v1 -> v2 changed the update:\n%x\n%x", e2.toBytes(), e2b.toBytes())
		}
	})
}

var codecAllocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

// codecAllocatedBy returns roughly how many heap bytes f allocated.
func codecAllocatedBy(f func()) uint64 {
	metrics.Read(codecAllocSample)
	before := codecAllocSample[0].Value.Uint64()
	f()
	metrics.Read(codecAllocSample)
	return codecAllocSample[0].Value.Uint64() - before
}

// codecReadOp performs one decoder read and reports whether it returned a
// zero value.
func codecReadOp(d updateDecoder, op byte) bool {
	switch op {
	case 0:
		return d.readLeftID() == ID{}
	case 1:
		return d.readRightID() == ID{}
	case 2:
		return d.readClient() == 0
	case 3:
		return d.readInfo() == 0
	case 4:
		return d.readString() == ""
	case 5:
		return len(d.readStringBytes()) == 0
	case 6:
		return !d.readParentInfo()
	case 7:
		return d.readTypeRef() == 0
	case 8:
		return d.readLen() == 0
	case 9:
		return d.readAny() == nil
	case 10:
		return d.readBuf() == nil
	case 11:
		return d.readJSON() == nil
	case 12:
		return d.readKey() == ""
	case 13:
		d.resetDsCurVal()
		return true
	case 14:
		return d.readDsClock() == 0
	case 15:
		return d.readDsLen() == 0
	case 16:
		return d.rest().ReadVarUint() == 0
	case 17:
		return d.rest().ReadVarString() == ""
	default:
		return d.rest().ReadUint8() == 0
	}
}
