package lib0

import (
	"bytes"
	"encoding/json"
	"runtime/metrics"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

// allocatedBy returns roughly how many heap bytes f allocated. The fuzz
// targets use it to check that decoders never allocate much more than
// their input justifies.
func allocatedBy(f func()) uint64 {
	metrics.Read(allocSample)
	before := allocSample[0].Value.Uint64()
	f()
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64() - before
}

func checkAllocs(t *testing.T, inputLen int, f func()) {
	t.Helper()
	limit := uint64(1<<20 + 1024*inputLen)
	if n := allocatedBy(f); n > limit {
		t.Fatalf("allocated %d bytes for %d input bytes", n, inputLen)
	}
}

func FuzzLib0ReadAny(f *testing.F) {
	for _, h := range []string{
		"7f", "7e", "7d40", "7c4f000000", "7b3ff199999999999a", "7a000000000000007b", "770768c3a9f09f9880",
		"74030102ff", "75037d0177016175017e",
		"760801327d040231307d030a343239343936373239347d0801627d0101617d020230317d05022d317d060a343239343936373239357d07",
		"75ffffffff0f", "7603" + "01617d01" + "095f5f70726f746f5f5f7601017a7d01" + "01617d02",
		strings.Repeat("7501", 600) + "7e",
	} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v Any
		var err error
		checkAllocs(t, len(data), func() {
			d := NewDecoder(data)
			v = d.ReadAny()
			err = d.Err()
		})
		if err != nil {
			if v != nil {
				t.Fatalf("value %v with error %v", v, err)
			}
			return
		}
		// Decoded values re-encode to a fixed point.
		var e1 Encoder
		e1.WriteAny(v)
		d := NewDecoder(e1.Bytes())
		v2 := d.ReadAny()
		if d.Err() != nil || d.Remaining() != 0 {
			t.Fatalf("re-decoding %x: %v", e1.Bytes(), d.Err())
		}
		var e2 Encoder
		e2.WriteAny(v2)
		if !bytes.Equal(e1.Bytes(), e2.Bytes()) {
			t.Fatalf("not a fixed point: %x then %x", e1.Bytes(), e2.Bytes())
		}
		// JSON of any decoded value either fails for the documented
		// reasons or parses back to the same JSON.
		if s, err := StringifyJSON(v); err == nil {
			p, err := ParseJSON(s)
			if err != nil {
				t.Fatalf("ParseJSON(%s): %v", s, err)
			}
			if s2, err := StringifyJSON(p); err != nil || s2 != s {
				t.Fatalf("JSON round trip: %s -> %s, %v", s, s2, err)
			}
		}
	})
}

func FuzzLib0ParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":2,"10":3,"2":4}`, `[1,-0.5e+2,1E2,0,-0]`, `"\ud83d\ude00\ud800"`, `1e400`, `{"a":{"b":[null,true,false]}}`,
		`"\u0000\b\f"`, strings.Repeat("[", 600), `{"__proto__":1,"a":1,"a":2}`, "\"\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v Any
		var err error
		checkAllocs(t, len(s), func() { v, err = ParseJSON(s) })
		// Same grammar as encoding/json, except for the nesting limit.
		if utf8.ValidString(s) && strings.Count(s, "[")+strings.Count(s, "{") <= MaxDepth {
			if (err == nil) != json.Valid([]byte(s)) {
				t.Fatalf("ParseJSON error %v, json.Valid %v", err, json.Valid([]byte(s)))
			}
		}
		if err != nil {
			return
		}
		out, err := StringifyJSON(v)
		if err != nil {
			t.Fatalf("StringifyJSON: %v", err)
		}
		v2, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", out, err)
		}
		if out2, _ := StringifyJSON(v2); out2 != out {
			t.Fatalf("not a fixed point: %s then %s", out, out2)
		}
		var e Encoder
		e.WriteAny(v)
		d := NewDecoder(e.Bytes())
		if d.ReadAny(); d.Err() != nil {
			t.Fatalf("ReadAny of WriteAny: %v", d.Err())
		}
	})
}

const fuzzReads = 300

func FuzzLib0RleDecoder(f *testing.F) {
	for _, h := range []string{"", "00", "010207", "c8010100ff", "01ffffffffffffff0f02"} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			d := NewRleDecoder(data)
			for range fuzzReads {
				if v := d.Read(); d.Err() != nil && v != 0 {
					t.Fatalf("value %d after error", v)
				}
			}
		})
	})
}

func FuzzLib0UintOptRleDecoder(f *testing.F) {
	for _, h := range []string{"", "00", "4000", "410107", "c8030001bf03", "7fffffffffffff0f"} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			d := NewUintOptRleDecoder(data)
			for range fuzzReads {
				if v := d.Read(); v > MaxSafeInteger || (d.Err() != nil && v != 0) {
					t.Fatalf("value %d, error %v", v, d.Err())
				}
			}
		})
	})
}

func FuzzLib0IntDiffOptRleDecoder(f *testing.F) {
	for _, h := range []string{"", "00", "0201000c", "06922202e601f420", "4901a603", "ffffffffffffff1fffffffffffffff0f"} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			d := NewIntDiffOptRleDecoder(data)
			for range fuzzReads {
				v := d.Read()
				if v > MaxSafeInteger || v < -MaxSafeInteger || (d.Err() != nil && v != 0) {
					t.Fatalf("value %d, error %v", v, d.Err())
				}
			}
		})
	})
}

func FuzzLib0StringDecoder(f *testing.F) {
	for _, h := range []string{"00", "04746162630103", "05f09f9880780102", "05f09f988078" + "01000101", "036161614101"} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			d := NewStringDecoder(data)
			for range fuzzReads {
				b := d.ReadBytes()
				if d.Err() != nil {
					if b != nil {
						t.Fatalf("value %q after error", b)
					}
					continue
				}
				if !utf8.Valid(b) {
					t.Fatalf("invalid UTF-8 %q", b)
				}
			}
		})
	})
}

// FuzzLib0UTF16 checks that the UTF-16 helpers agree with Go's own UTF-16
// conversion and count invalid input as the U+FFFD the wire will carry.
func FuzzLib0UTF16(f *testing.F) {
	for _, s := range []string{"", "abc", "a😀b", "\xe2\x82a", "\xed\xa0\x80", "\xf0\x9f\x98", "é\xff"} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, b []byte, units int) {
		w := wellFormed(b)
		n := len(utf16.Encode([]rune(string(w))))
		if UTF16Len(b) != n || UTF16Len(w) != n || UTF16LenString(string(b)) != n {
			t.Fatalf("UTF16Len(%q) = %d, of repaired %d, want %d", b, UTF16Len(b), UTF16Len(w), n)
		}
		var e Encoder
		e.WriteVarStringBytes(b)
		if d := NewDecoder(e.Bytes()); !bytes.Equal(d.ReadVarStringBytes(), w) || d.Err() != nil {
			t.Fatalf("varString of %q does not decode to %q", b, w)
		}
		if units < 0 || units > n {
			return
		}
		off, split := UTF16Offset(w, units)
		prefix := len(utf16.Encode([]rune(string(w[:off]))))
		if split {
			if prefix != units-1 {
				t.Fatalf("UTF16Offset(%q, %d) = %d, split, but the prefix has %d units", w, units, off, prefix)
			}
		} else if prefix != units {
			t.Fatalf("UTF16Offset(%q, %d) = %d, prefix has %d units", w, units, off, prefix)
		}
	})
}
