package lib0

import (
	"errors"
	"slices"
	"testing"
)

var columnCases = [][]int64{
	{}, {0}, {1}, {0, 0}, {1, 1, 1, 7}, {1, 2, 3, 3, 3}, {5, 5, 0, 0, 0, 1},
	{3, 1100, 1101, 1050, 0}, {1, 2, 3, 2}, {0, 1, 2, 3, 4, 5}, {7, 7, 7}, {200, 200, 1, 255},
}

func TestLib0RleColumn(t *testing.T) {
	want := []string{"", "00", "01", "00", "010207", "0100020003", "0501000201",
		"03004c004d001a0000", "01000200030002", "0000010002000300040005", "07", "c8010100ff"}
	for i, vals := range columnCases {
		var e RleEncoder
		for _, v := range vals {
			e.Write(byte(v))
		}
		if got := hexOf(e.Bytes()); got != want[i] {
			t.Errorf("Rle%v = %s, want %s", vals, got, want[i])
		}
		d := NewRleDecoder(e.Bytes())
		for j, v := range vals {
			if got := d.Read(); got != byte(v) {
				t.Errorf("Rle%v[%d] = %d", vals, j, got)
			}
		}
		if len(vals) > 0 {
			// The last value repeats forever.
			for range 3 {
				if got := d.Read(); got != byte(vals[len(vals)-1]) {
					t.Errorf("Rle%v: past the end got %d", vals, got)
				}
			}
		}
		if d.Err() != nil {
			t.Errorf("Rle%v: %v", vals, d.Err())
		}
	}
	d := NewRleDecoder(nil)
	if d.Read(); !errors.Is(d.Err(), ErrUnexpectedEOF) {
		t.Errorf("empty Rle column: %v", d.Err())
	}
}

func TestLib0UintOptRleColumn(t *testing.T) {
	want := []string{"", "00", "01", "4000", "410107", "01024301", "4500400101",
		"038c118d119a1000", "01020302", "000102030405", "4701", "c8030001bf03"}
	for i, vals := range columnCases {
		var e UintOptRleEncoder
		for _, v := range vals {
			e.Write(uint64(v))
		}
		b := e.Bytes()
		if got := hexOf(b); got != want[i] {
			t.Errorf("UintOptRle%v = %s, want %s", vals, got, want[i])
		}
		if got := hexOf(e.Bytes()); got != want[i] {
			t.Errorf("UintOptRle%v: second Bytes = %s", vals, got)
		}
		d := NewUintOptRleDecoder(b)
		for j, v := range vals {
			if got := d.Read(); got != uint64(v) {
				t.Errorf("UintOptRle%v[%d] = %d", vals, j, got)
			}
		}
		if d.Err() != nil {
			t.Errorf("UintOptRle%v: %v", vals, d.Err())
		}
		if d.Read(); !errors.Is(d.Err(), ErrUnexpectedEOF) {
			t.Errorf("UintOptRle%v: read past the end: %v", vals, d.Err())
		}
	}
	// Writing after Bytes continues correctly.
	var e UintOptRleEncoder
	e.Write(4)
	e.Write(4)
	e.Bytes()
	e.Write(4)
	e.Write(5)
	d := NewUintOptRleDecoder(e.Bytes())
	if got := []uint64{d.Read(), d.Read(), d.Read(), d.Read()}; !slices.Equal(got, []uint64{4, 4, 4, 5}) || d.Err() != nil {
		t.Errorf("continued = %v, %v", got, d.Err())
	}
}

func TestLib0IntDiffOptRleColumn(t *testing.T) {
	cases := append(slices.Clone(columnCases), []int64{-5, -10, -15, 100}, []int64{0, -1, -2, -3})
	want := []string{"", "00", "02", "0100", "0201000c", "03010100", "0a004a010002",
		"06922202e601f420", "030142", "000303", "0e0100", "900600ce06bc07", "4901a603", "004101"}
	for i, vals := range cases {
		var e IntDiffOptRleEncoder
		for _, v := range vals {
			e.Write(v)
		}
		b := e.Bytes()
		if got := hexOf(b); got != want[i] {
			t.Errorf("IntDiffOptRle%v = %s, want %s", vals, got, want[i])
		}
		d := NewIntDiffOptRleDecoder(b)
		for j, v := range vals {
			if got := d.Read(); got != v {
				t.Errorf("IntDiffOptRle%v[%d] = %d", vals, j, got)
			}
		}
		if d.Err() != nil {
			t.Errorf("IntDiffOptRle%v: %v", vals, d.Err())
		}
		if d.Read(); !errors.Is(d.Err(), ErrUnexpectedEOF) {
			t.Errorf("IntDiffOptRle%v: read past the end: %v", vals, d.Err())
		}
	}
	// -0 (0x40) decodes as a zero difference.
	d := NewIntDiffOptRleDecoder(unhex(t, "0440"))
	if a, b := d.Read(), d.Read(); a != 2 || b != 2 || d.Err() != nil {
		t.Errorf("-0 diff: %d %d %v", a, b, d.Err())
	}
	// A long run of large differences must leave the safe range with an error.
	d = NewIntDiffOptRleDecoder(unhex(t, "ffffffffffffff1f"+"ffffffffffffff0f"))
	d.Read()
	d.Read()
	if !errors.Is(d.Err(), ErrInvalid) {
		t.Errorf("overflowing run: %v", d.Err())
	}
}

func TestLib0StringColumn(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		hex  string
	}{
		{nil, "00"},
		{[]string{""}, "0000"},
		{[]string{"t", "abc"}, "04746162630103"},
		{[]string{"a", "a", "a"}, "036161614101"},
		{[]string{"😀", "x", ""}, "05f09f988078020100"},
		{[]string{"hello world this is long", "more text here x", "b"},
			"2968656c6c6f20776f726c642074686973206973206c6f6e676d6f726520746578742068657265207862181001"},
	} {
		var e StringEncoder
		for _, s := range tc.vals {
			e.Write(s)
		}
		if got := hexOf(e.Bytes()); got != tc.hex {
			t.Errorf("String%q = %s, want %s", tc.vals, got, tc.hex)
		}
		var e2 StringEncoder
		for _, s := range tc.vals {
			e2.WriteBytes([]byte(s))
		}
		if got := hexOf(e2.Bytes()); got != tc.hex {
			t.Errorf("String%q via WriteBytes = %s, want %s", tc.vals, got, tc.hex)
		}
		d := NewStringDecoder(unhex(t, tc.hex))
		for _, s := range tc.vals {
			if got := d.Read(); got != s {
				t.Errorf("String%q: read %q", tc.vals, got)
			}
		}
		if d.Err() != nil {
			t.Errorf("String%q: %v", tc.vals, d.Err())
		}
	}
	// lib0's StringEncoder of "\ud83d", "\ude00x": the concatenation forms a
	// valid pair, and the lengths 1 and 2 cut it. JavaScript then holds lone
	// surrogates; each becomes U+FFFD here, keeping the UTF-16 lengths.
	d := NewStringDecoder(unhex(t, "05f09f9880780102"))
	if a, b := d.Read(), d.Read(); a != "\uFFFD" || b != "\uFFFDx" || d.Err() != nil {
		t.Errorf("split pair: %q %q %v", a, b, d.Err())
	}
	d = NewStringDecoder(unhex(t, "05f09f988078"+"01"+"00"+"01"+"01"))
	if got := []string{d.Read(), d.Read(), d.Read(), d.Read()}; !slices.Equal(got, []string{"\uFFFD", "", "\uFFFD", "x"}) || d.Err() != nil {
		t.Errorf("split pair with empty string: %q %v", got, d.Err())
	}
	// Sub-slices are capped.
	in := unhex(t, "04746162630103")
	d = NewStringDecoder(in)
	b := d.ReadBytes()
	if string(b) != "t" || cap(b) != 1 {
		t.Errorf("ReadBytes = %q cap %d", b, cap(b))
	}
	for _, h := range []string{"", "05", "01ff00", "0161" + "02", "0161" + "01" + "01", "00" + "41"} {
		d := NewStringDecoder(unhex(t, h))
		d.Read()
		d.Read()
		if d.Err() == nil {
			t.Errorf("String column %s: no error", h)
		}
	}
}
