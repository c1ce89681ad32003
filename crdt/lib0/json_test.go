package lib0

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestLib0NumberToString(t *testing.T) {
	// Expected values are JavaScript's String(n), printed by node.
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0.1, "0.1"},
		{1e21, "1e+21"},
		{1.5e-7, "1.5e-7"},
		{123456789012345680000, "123456789012345680000"},
		{math.Copysign(0, -1), "0"},
		{0, "0"},
		{5e-324, "5e-324"},
		{1 << 53, "9007199254740992"},
		{1e-6, "0.000001"},
		{1e-7, "1e-7"},
		{123.456, "123.456"},
		{-1e-7, "-1e-7"},
		{1e20, "100000000000000000000"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{0.000001234, "0.000001234"},
		{100, "100"},
		{1.0 / 3, "0.3333333333333333"},
		{4.35, "4.35"},
		{0.3, "0.3"},
		{1.5e-323, "1.5e-323"},
		{9.999999999999999e20, "999999999999999900000"},
		{1e21 + 1<<20, "1.000000000000001e+21"},
		{-2.5, "-2.5"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	} {
		if got := NumberToString(tc.f); got != tc.want {
			t.Errorf("NumberToString(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}

func TestLib0StringifyJSON(t *testing.T) {
	u8 := []byte{1, 2}
	for _, tc := range []struct {
		name string
		v    Any
		want string
	}{
		{"escapes", `a"b\c`, `"a\"b\\c"`},
		{"controls", "\b\f\n\r\t\x00\x1f\x7f", `"\b\f\n\r\t\u0000\u001f` + "\x7f\""},
		{"no html escaping", "<>&\u2028\u2029é😀", "\"<>&\u2028\u2029é😀\""},
		{"invalid utf-8", "a\xffb", "\"a\uFFFDb\""},
		{"object", obj("b", 1.0, "a", []Any{Undefined, math.NaN(), nil}, "u", Undefined, "10", u8),
			`{"10":{"0":1,"1":2},"b":1,"a":[null,null,null]}`},
		{"empty bytes", []byte{}, "{}"},
		{"empty array", []Any{}, "[]"},
		{"empty object", NewObject(), "{}"},
		{"numbers", []Any{0.1, 1e21, 1.5e-7, math.Copysign(0, -1), math.Inf(1)}, "[0.1,1e+21,1.5e-7,0,null]"},
		{"literals", []Any{true, false, nil}, "[true,false,null]"},
		{"go values", map[string]any{"x": 1, "y": []string{"a"}}, `{"x":1,"y":["a"]}`},
	} {
		got, err := StringifyJSON(tc.v)
		if err != nil || got != tc.want {
			t.Errorf("%s: StringifyJSON = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if _, err := StringifyJSON(Undefined); !errors.Is(err, ErrUndefined) {
		t.Errorf("undefined: %v", err)
	}
	if _, err := StringifyJSON([]Any{BigInt(1)}); !errors.Is(err, ErrBigInt) {
		t.Errorf("bigint: %v", err)
	}
	if _, err := StringifyJSON(make(chan int)); err == nil {
		t.Error("chan: no error")
	}
}

// TestLib0ExportJSON: the export flavour writes BigInts as digits, nested
// too, and is otherwise JSON.stringify.
func TestLib0ExportJSON(t *testing.T) {
	o := NewObject()
	o.Set("n", BigInt(-9007199254740993))
	o.Set("s", "x")
	got, err := ExportJSON([]Any{BigInt(1), o, 1.5})
	if want := `[1,{"n":-9007199254740993,"s":"x"},1.5]`; err != nil || got != want {
		t.Errorf("ExportJSON = %s, %v; want %s", got, err, want)
	}
	if _, err := ExportJSON(Undefined); !errors.Is(err, ErrUndefined) {
		t.Errorf("undefined: %v", err)
	}
}

func TestLib0ParseJSON(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want is re-stringified
	}{
		{`{"b":1,"a":2,"10":3,"2":4}`, `{"2":4,"10":3,"b":1,"a":2}`},
		{`{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{`{"__proto__":1}`, `{"__proto__":1}`},
		{" \t\r\n[1 , -0.5e+2,1E2, 0 ,-0]\n", "[1,-50,100,0,0]"},
		{`1e400`, "null"},
		{`-1e400`, "null"},
		{`1e-400`, "0"},
		{`123456789012345678901234567890`, "1.2345678901234568e+29"},
		{`"\u0041\u00e9\ud83d\ude00\/"`, `"Aé😀/"`},
		{`"\ud800"`, "\"\uFFFD\""},
		{`"\udc00\ud800x"`, "\"\uFFFD\uFFFDx\""},
		{`"\ud800\u0041"`, "\"\uFFFDA\""},
		{`"\ud800\ud800\udc00"`, "\"\uFFFD\U00010000\""},
		{"\"\xff\"", "\"\uFFFD\""},
		{`"\uD83D\uDE00"`, `"😀"`},
		{`[]`, `[]`},
		{`{}`, `{}`},
		{`[[[]]]`, `[[[]]]`},
		{`"\b\f\n\r\t\"\\"`, `"\b\f\n\r\t\"\\"`},
		{`true`, `true`},
		{`null`, `null`},
	} {
		v, err := ParseJSON(tc.in)
		if err != nil {
			t.Errorf("ParseJSON(%s): %v", tc.in, err)
			continue
		}
		got, err := StringifyJSON(v)
		if err != nil || got != tc.want {
			t.Errorf("ParseJSON(%s) -> %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	v, _ := ParseJSON("-0")
	if f := v.(float64); f != 0 || !math.Signbit(f) {
		t.Errorf("-0 parsed as %v", f)
	}
	for _, bad := range []string{
		"", " ", "undefined", "01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity",
		"[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\nb\"", `"abc`,
		"[1 2]", "{\"a\" 1}", "tru", "nul", "[", "{", "1 2", "\u00a01", "[1]x", "\"\\",
		strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2),
	} {
		if v, err := ParseJSON(bad); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseJSON(%.40q) = %v, %v; want ErrInvalid", bad, v, err)
		}
	}
}
