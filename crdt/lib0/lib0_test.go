package lib0

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Unless a comment says otherwise, every hex string in these tests was
// printed by lib0 0.2.120 / yjs 13.6.33 (see docs/yjs-wire.md sections 1
// and 3 for the documented subset).

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func TestLib0VarUint(t *testing.T) {
	for _, tc := range []struct {
		v   uint64
		hex string
	}{
		{0, "00"}, {1, "01"}, {127, "7f"}, {128, "8001"}, {300, "ac02"},
		{1<<31 - 1 + 1, "8080808008"}, {1<<32 - 1, "ffffffff0f"},
		{MaxSafeInteger, "ffffffffffffff0f"},
	} {
		var e Encoder
		e.WriteVarUint(tc.v)
		if got := hexOf(e.Bytes()); got != tc.hex {
			t.Errorf("WriteVarUint(%d) = %s, want %s", tc.v, got, tc.hex)
		}
		d := NewDecoder(unhex(t, tc.hex))
		if got := d.ReadVarUint(); got != tc.v || d.Err() != nil || d.Remaining() != 0 {
			t.Errorf("ReadVarUint(%s) = %d, %v", tc.hex, got, d.Err())
		}
	}
}

func TestLib0VarUintDecodeEdges(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		v    uint64
		want error
	}{
		{"", 0, ErrUnexpectedEOF},
		{"80", 0, ErrUnexpectedEOF},
		{"ffffffffffffff0f", MaxSafeInteger, nil},
		// 2^53: lib0 returns it rounded, which could not round-trip.
		{"80808080808080" + "10", 0, ErrInvalid},
		{"ffffffffffffff7f", 0, ErrInvalid},
		// Redundant zero groups are accepted, as by lib0.
		{"8180808080808080808000", 1, nil},
		{"ffffffffffffff8f8000", MaxSafeInteger, nil},
		{"ffffffffffffff8f8001", 0, ErrInvalid},
		{"ffffffffffffffffffffff01", 0, ErrInvalid},
	} {
		d := NewDecoder(unhex(t, tc.hex))
		got := d.ReadVarUint()
		if !errors.Is(d.Err(), tc.want) || (tc.want == nil && got != tc.v) {
			t.Errorf("ReadVarUint(%s) = %d, %v; want %d, %v", tc.hex, got, d.Err(), tc.v, tc.want)
		}
		if tc.want != nil && d.Remaining() != 0 {
			t.Errorf("ReadVarUint(%s): Remaining %d after error", tc.hex, d.Remaining())
		}
	}
}

func TestLib0VarInt(t *testing.T) {
	for _, tc := range []struct {
		abs uint64
		neg bool
		hex string
	}{
		{0, false, "00"}, {0, true, "40"}, {1, false, "01"}, {1, true, "41"},
		{63, false, "3f"}, {63, true, "7f"}, {64, false, "8001"}, {64, true, "c001"},
		{8191, false, "bf7f"}, {8192, false, "808001"}, {8192, true, "c08001"},
		{1<<31 - 1, false, "bfffffff0f"}, {1 << 31, true, "c080808010"},
		{MaxSafeInteger, false, "bfffffffffffff1f"}, {MaxSafeInteger, true, "ffffffffffffff1f"},
	} {
		var e Encoder
		e.WriteVarIntSign(tc.abs, tc.neg)
		if got := hexOf(e.Bytes()); got != tc.hex {
			t.Errorf("WriteVarIntSign(%d, %v) = %s, want %s", tc.abs, tc.neg, got, tc.hex)
		}
		if tc.abs != 0 || !tc.neg {
			v := int64(tc.abs)
			if tc.neg {
				v = -v
			}
			e.Reset()
			e.WriteVarInt(v)
			if got := hexOf(e.Bytes()); got != tc.hex {
				t.Errorf("WriteVarInt(%d) = %s, want %s", v, got, tc.hex)
			}
			if got := NewDecoder(unhex(t, tc.hex)).ReadVarInt(); got != v {
				t.Errorf("ReadVarInt(%s) = %d, want %d", tc.hex, got, v)
			}
		}
		d := NewDecoder(unhex(t, tc.hex))
		abs, neg := d.ReadVarIntSign()
		if abs != tc.abs || neg != tc.neg || d.Err() != nil || d.Remaining() != 0 {
			t.Errorf("ReadVarIntSign(%s) = %d, %v, %v", tc.hex, abs, neg, d.Err())
		}
	}
	// Go-only range: lib0 cannot read these, but the encoder must not
	// mangle them.
	var e Encoder
	e.WriteVarInt(math.MinInt64)
	if got, want := hexOf(e.Bytes()), "c0808080808080808002"; got != want {
		t.Errorf("WriteVarInt(MinInt64) = %s, want %s", got, want)
	}
	for _, h := range []string{"", "80", "c0", "c0808080808080808001"} {
		d := NewDecoder(unhex(t, h))
		d.ReadVarInt()
		if d.Err() == nil {
			t.Errorf("ReadVarInt(%s): no error", h)
		}
	}
}

func TestLib0Strings(t *testing.T) {
	for _, tc := range []struct {
		in, hex string
	}{
		{"", "00"},
		{"hé😀", "0768c3a9f09f9880"},
		{"\uFEFFa", "04efbbbf61"}, // BOM kept
		// Invalid UTF-8 is replaced like TextEncoder replaces lone surrogates.
		{"a\xffb", "0561efbfbd62"},
		{"\xed\xa0\x80", "09efbfbdefbfbdefbfbd"},           // encoded surrogate: 3 maximal subparts
		{"\xe2\x82a", "04efbfbd61"},                        // truncated sequence: one U+FFFD
		{"\xf0\x9f\x98", "03efbfbd"},                       // truncated astral
		{"\xc0\xaf", "06efbfbdefbfbd"},                     // overlong
		{"\xf4\x90\x80\x80", "0cefbfbdefbfbdefbfbdefbfbd"}, // above U+10FFFF
	} {
		var e Encoder
		e.WriteVarString(tc.in)
		if got := hexOf(e.Bytes()); got != tc.hex {
			t.Errorf("WriteVarString(%q) = %s, want %s", tc.in, got, tc.hex)
		}
		e.Reset()
		e.WriteVarStringBytes([]byte(tc.in))
		if got := hexOf(e.Bytes()); got != tc.hex {
			t.Errorf("WriteVarStringBytes(%q) = %s, want %s", tc.in, got, tc.hex)
		}
	}
	d := NewDecoder(unhex(t, "04efbbbf61"))
	if s := d.ReadVarString(); s != "\uFEFFa" || d.Err() != nil {
		t.Errorf("BOM: %q %v", s, d.Err())
	}
	for _, h := range []string{"01ff", "03eda080", "02c0af", "05", "8080"} {
		d := NewDecoder(unhex(t, h))
		if s := d.ReadVarString(); s != "" || d.Err() == nil {
			t.Errorf("ReadVarString(%s) = %q, %v; want error", h, s, d.Err())
		}
	}
	in := unhex(t, "0361626378")
	d = NewDecoder(in)
	b := d.ReadVarStringBytes()
	if string(b) != "abc" || cap(b) != 3 {
		t.Errorf("ReadVarStringBytes = %q cap %d", b, cap(b))
	}
	_ = append(b, 'Z')
	if in[4] != 'x' {
		t.Error("appending to a returned slice overwrote the input")
	}
}

func TestLib0Fixed(t *testing.T) {
	var e Encoder
	e.WriteFloat32(-1.5)
	e.WriteFloat64(1.1)
	e.WriteBigInt64(-5)
	e.WriteVarBytes([]byte{1, 2, 255})
	e.WriteBytes([]byte{9})
	e.WriteUint8(7)
	want := "bfc00000" + "3ff199999999999a" + "fffffffffffffffb" + "030102ff" + "09" + "07"
	if got := hexOf(e.Bytes()); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if e.Len() != len(want)/2 {
		t.Errorf("Len = %d", e.Len())
	}
	d := NewDecoder(e.Bytes())
	if d.ReadFloat32() != -1.5 || d.ReadFloat64() != 1.1 || d.ReadBigInt64() != -5 ||
		!bytes.Equal(d.ReadVarBytes(), []byte{1, 2, 255}) || !bytes.Equal(d.ReadBytes(1), []byte{9}) ||
		d.ReadUint8() != 7 || d.Err() != nil || d.Remaining() != 0 || d.Pos() != len(want)/2 {
		t.Errorf("round trip failed: %v", d.Err())
	}
	// Sticky error: once failed, everything is zero.
	d = NewDecoder(unhex(t, "0501"))
	if d.ReadVarBytes() != nil || !errors.Is(d.Err(), ErrUnexpectedEOF) {
		t.Errorf("short varBytes: %v", d.Err())
	}
	if d.ReadUint8() != 0 || d.ReadVarUint() != 0 || d.ReadFloat64() != 0 || d.ReadAny() != nil {
		t.Error("reads after an error returned data")
	}
	first := d.Err()
	d.Fail(ErrInvalid)
	if d.Err() != first {
		t.Error("Fail replaced the first error")
	}
	d = NewDecoder([]byte{1})
	d.ReadBytes(-1)
	if !errors.Is(d.Err(), ErrInvalid) {
		t.Errorf("ReadBytes(-1): %v", d.Err())
	}
}

func obj(kv ...any) *Object {
	o := NewObject()
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

func TestLib0WriteAny(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Any
		hex  string
	}{
		{"undefined", Undefined, "7f"},
		{"null", nil, "7e"},
		{"true", true, "78"},
		{"false", false, "79"},
		{"0", 0.0, "7d00"},
		{"-0", math.Copysign(0, -1), "7d40"},
		{"-1", -1.0, "7d41"},
		{"2147483647", 2147483647.0, "7dbfffffff0f"},
		{"-2147483647", -2147483647.0, "7dffffffff0f"},
		{"2147483648", 2147483648.0, "7c4f000000"},
		{"-2147483648", -2147483648.0, "7ccf000000"},
		{"1.1", 1.1, "7b3ff199999999999a"},
		{"-1.5", -1.5, "7cbfc00000"},
		{"0.5", 0.5, "7c3f000000"},
		{"NaN", math.Float64frombits(0x7ff8000000000000), "7b7ff8000000000000"},
		{"NaN payload kept, as by V8", math.Float64frombits(0x7ff0000000000001), "7b7ff0000000000001"},
		{"Infinity", math.Inf(1), "7c7f800000"},
		{"-Infinity", math.Inf(-1), "7cff800000"},
		{"1e300", 1e300, "7b7e37e43c8800759c"},
		{"2**53", 1 << 53, "7c5a000000"},
		{"5e-324", 5e-324, "7b0000000000000001"},
		{"1e-45", 1e-45, "7b3696d601ad376ab9"},
		{"bigint", BigInt(123), "7a000000000000007b"},
		{"bigint-neg", BigInt(-5), "7afffffffffffffffb"},
		{"str", "hé😀", "770768c3a9f09f9880"},
		{"emptystr", "", "7700"},
		{"lone surrogate as invalid UTF-8", "a\xffb", "770561efbfbd62"},
		{"u8", []byte{1, 2, 255}, "74030102ff"},
		{"arr", []Any{1.0, "a", []Any{nil}}, "75037d0177016175017e"},
		{"obj", obj("a", 1.0), "760101617d01"},
		{"order", obj("b", 1.0, "a", 2.0, "10", 3.0, "2", 4.0, "01", 5.0, "-1", 6.0, "4294967295", 7.0, "4294967294", 8.0),
			"760801327d040231307d030a343239343936373239347d0801627d0101617d020230317d05022d317d060a343239343936373239357d07"},
		{"doc {b,a,10,2}", obj("b", 1.0, "a", 1.0, "10", 1.0, "2", 1.0), "7604" + "01327d01" + "0231307d01" + "01627d01" + "01617d01"},
		// Not Any: normalized on the way.
		{"int", 5, "7d05"},
		{"map", map[string]int{"b": 1, "a": 2}, "760201617d0201627d01"},
		{"func", func() {}, "7f"},
	} {
		var e Encoder
		e.WriteAny(tc.v)
		if got := hexOf(e.Bytes()); got != tc.hex {
			t.Errorf("%s: WriteAny = %s, want %s", tc.name, got, tc.hex)
		}
		if tc.name == "func" {
			continue
		}
		d := NewDecoder(e.Bytes())
		v := d.ReadAny()
		if d.Err() != nil || d.Remaining() != 0 {
			t.Errorf("%s: ReadAny: %v", tc.name, d.Err())
			continue
		}
		var e2 Encoder
		e2.WriteAny(v)
		if !bytes.Equal(e2.Bytes(), e.Bytes()) {
			t.Errorf("%s: re-encoded as %x", tc.name, e2.Bytes())
		}
	}
}

func TestLib0ReadAny(t *testing.T) {
	d := NewDecoder(unhex(t, "7d40"))
	if v := d.ReadAny().(float64); v != 0 || !math.Signbit(v) {
		t.Errorf("7d40 = %v, want -0", v)
	}
	d = NewDecoder(unhex(t, "7c3f000000"))
	if v, ok := d.ReadAny().(float64); !ok || v != 0.5 {
		t.Errorf("float32 0.5 = %#v", v)
	}
	// Duplicate keys: the last value wins at the first position; __proto__
	// is not an own property in JavaScript.
	d = NewDecoder(unhex(t, "7603"+"01617d01"+"095f5f70726f746f5f5f7601017a7d01"+"01617d02"))
	o := d.ReadAny().(*Object)
	if d.Err() != nil || o.Len() != 1 || !slices.Equal(o.Keys(), []string{"a"}) {
		t.Fatalf("object = %v %v", o.Keys(), d.Err())
	}
	if v, _ := o.Get("a"); v != 2.0 {
		t.Errorf("a = %v", v)
	}
	// Byte arrays are copied out of the input.
	in := unhex(t, "740101")
	b := NewDecoder(in).ReadAny().([]byte)
	b[0] = 9
	if in[2] != 1 {
		t.Error("ReadAny aliased the input")
	}
	for _, tc := range []struct {
		hex  string
		want error
	}{
		{"", ErrUnexpectedEOF},
		{"73", ErrInvalid},
		{"80", ErrInvalid},
		{"7d", ErrUnexpectedEOF},
		{"77", ErrUnexpectedEOF},
		{"7701ff", ErrInvalid},
		{"75ffffffff0f", ErrUnexpectedEOF}, // count beyond the input: no allocation
		{"76ffffffff0f", ErrUnexpectedEOF},
		{"7602017a7e", ErrUnexpectedEOF},
		{"7402ff", ErrUnexpectedEOF},
		{strings.Repeat("7501", MaxDepth+1) + "7e", ErrInvalid},
	} {
		d := NewDecoder(unhex(t, tc.hex))
		if v := d.ReadAny(); v != nil || !errors.Is(d.Err(), tc.want) {
			t.Errorf("ReadAny(%.20s) = %v, %v; want %v", tc.hex, v, d.Err(), tc.want)
		}
	}
	d = NewDecoder(unhex(t, strings.Repeat("7501", MaxDepth)+"7e"))
	if d.ReadAny(); d.Err() != nil {
		t.Errorf("depth %d: %v", MaxDepth, d.Err())
	}
}

func TestLib0Object(t *testing.T) {
	var o Object // zero value usable
	for _, k := range []string{"b", "a", "10", "2", "0", "00", "4294967294", "4294967295", "-0", "1.5"} {
		o.Set(k, k)
	}
	want := []string{"0", "2", "10", "4294967294", "b", "a", "00", "4294967295", "-0", "1.5"}
	if !slices.Equal(o.Keys(), want) {
		t.Errorf("Keys = %q, want %q", o.Keys(), want)
	}
	o.Set("b", 1.0) // keeps its place
	o.Delete("a")
	o.Delete("10")
	o.Delete("missing")
	o.Set("a", 2.0) // goes to the end
	want = []string{"0", "2", "4294967294", "b", "00", "4294967295", "-0", "1.5", "a"}
	if !slices.Equal(o.Keys(), want) || o.Len() != len(want) {
		t.Errorf("Keys = %q, want %q", o.Keys(), want)
	}
	if v, ok := o.Get("b"); !ok || v != 1.0 {
		t.Errorf("Get(b) = %v %v", v, ok)
	}
	if _, ok := o.Get("10"); ok {
		t.Error("deleted key present")
	}
	var nilObj *Object
	if nilObj.Len() != 0 || nilObj.Keys() != nil {
		t.Error("nil object not empty")
	}
}

func TestLib0Normalize(t *testing.T) {
	type myStr string
	o := obj("z", 1.0)
	already := []Any{1.0, o}
	v, err := Normalize(already)
	if err != nil || &v.([]Any)[0] != &already[0] {
		t.Errorf("already-Any slice was copied: %v", err)
	}
	v, err = Normalize(o)
	if err != nil || v.(*Object) != o {
		t.Error("already-Any object was copied")
	}
	in := map[string]any{
		"b": []int{1, 2}, "a": uint8(3), "10": []string{"x"},
		"n": nil, "m": map[string]string{"y": "z"}, "f": float32(0.5),
		"s": myStr("q"), "bytes": []byte{1}, "arr": [2]bool{true, false},
		"obj": obj("k", 7), "any": []any{int64(1 << 60)},
	}
	v, err = Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := StringifyJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"10":["x"],"a":3,"any":[1152921504606847000],"arr":[true,false],"b":[1,2],"bytes":{"0":1},"f":0.5,"m":{"y":"z"},"n":null,"obj":{"k":7},"s":"q"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if o2, _ := v.(*Object).Get("obj"); o2.(*Object) == in["obj"] {
		t.Error("object holding a non-Any value was changed in place")
	}
	for _, bad := range []any{struct{}{}, map[int]any{1: 2}, make(chan int), new(int), []any{complex(1, 2)}} {
		if _, err := Normalize(bad); err == nil {
			t.Errorf("Normalize(%T): no error", bad)
		}
	}
	cyc := []any{nil}
	cyc[0] = cyc
	if _, err := Normalize(cyc); err == nil {
		t.Error("cyclic value: no error")
	}
}

func TestLib0UTF16(t *testing.T) {
	for _, tc := range []struct {
		s string
		n int
	}{{"", 0}, {"abc", 3}, {"a😀b", 4}, {"é", 1}, {"\uFFFF", 1}, {"\U00010000", 2}, {"a\xff", 2}, {"\xe2\x82a", 2}, {"\xed\xa0\x80", 3}, {"\xf0\x9f\x98", 1}} {
		if got := UTF16Len([]byte(tc.s)); got != tc.n {
			t.Errorf("UTF16Len(%q) = %d, want %d", tc.s, got, tc.n)
		}
		if got := UTF16LenString(tc.s); got != tc.n {
			t.Errorf("UTF16LenString(%q) = %d, want %d", tc.s, got, tc.n)
		}
	}
	s := []byte("aé😀b")
	for _, tc := range []struct {
		units, off int
		split      bool
	}{{0, 0, false}, {1, 1, false}, {2, 3, false}, {3, 3, true}, {4, 7, false}, {5, 8, false}, {9, 8, false}} {
		off, split := UTF16Offset(s, tc.units)
		if off != tc.off || split != tc.split {
			t.Errorf("UTF16Offset(%d) = %d, %v; want %d, %v", tc.units, off, split, tc.off, tc.split)
		}
	}
}

// Integer keys arriving in descending order must not make decoding
// quadratic: 200k of them would take minutes if each were inserted in
// place.
func TestLib0ObjectDescendingKeys(t *testing.T) {
	const n = 200000
	var e Encoder
	var js strings.Builder
	e.WriteUint8(118)
	e.WriteVarUint(n)
	js.WriteByte('{')
	for i := n - 1; i >= 0; i-- {
		k := strconv.Itoa(i)
		e.WriteVarString(k)
		e.WriteAny(true)
		if i != n-1 {
			js.WriteByte(',')
		}
		js.WriteString(`"` + k + `":true`)
	}
	js.WriteByte('}')
	start := time.Now()
	d := NewDecoder(e.Bytes())
	o := d.ReadAny().(*Object)
	v, err := ParseJSON(js.String())
	if d.Err() != nil || err != nil {
		t.Fatal(d.Err(), err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("decoding took %v", el)
	}
	for _, keys := range [][]string{o.Keys(), v.(*Object).Keys()} {
		if len(keys) != n || keys[0] != "0" || keys[n-1] != strconv.Itoa(n-1) {
			t.Errorf("keys not in ascending order: %v … %v", keys[:3], keys[n-3:])
		}
	}
	o.Set("7", false) // existing: keeps its place
	o.Set("200000", 1.0)
	o.Set("x", 1.0)
	o.Set("5000000", 1.0)
	keys := o.Keys()
	if keys[7] != "7" || keys[n] != "200000" || keys[n+1] != "5000000" || keys[n+2] != "x" {
		t.Errorf("Set after decoding: %v", keys[n-1:])
	}
}
