package lib0

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrUndefined is returned by StringifyJSON for a top-level undefined, for
// which JSON.stringify returns undefined rather than a string. Yjs' v1
// encoder writes the text "undefined" in that case; callers that need that
// do it themselves.
var ErrUndefined = errors.New("lib0: JSON.stringify(undefined) is not a string")

// ErrBigInt is returned by StringifyJSON for a BigInt anywhere in the value;
// JSON.stringify throws a TypeError there.
var ErrBigInt = errors.New("lib0: BigInt cannot be serialized as JSON")

// NumberToString formats f exactly as JavaScript's Number#toString() does:
// the shortest digits that round-trip, plain notation for magnitudes in
// [1e-6, 1e21), exponent notation ("1e+21", "1.5e-7") outside it, "0" for
// -0, and "NaN", "Infinity", "-Infinity".
func NumberToString(f float64) string {
	return string(appendNumber(nil, f))
}

func appendNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// strconv's shortest formatting picks the same digits as ECMAScript's
	// Number::toString (shortest, then closest); only the layout differs.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(string(e), "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k := len(digits)
	n := x + 1 // the value is 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := 0; i < n-k; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, "0."...)
		for i := 0; i < -n; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// StringifyJSON returns what JSON.stringify(v) returns, byte for byte:
// numbers as NumberToString (NaN and ±Infinity as null), strings escaped
// only where JSON requires it (no HTML escaping, non-ASCII kept), undefined
// object members omitted and undefined array elements written as null, and
// a []byte as the object of its indices that a Uint8Array stringifies to.
// A top-level undefined yields ErrUndefined and a BigInt ErrBigInt. Values
// that are not Any go through Normalize first.
func StringifyJSON(v Any) (string, error) { return stringify(v, false) }

// ExportJSON is StringifyJSON for readers that are not bound to JavaScript's
// rules, such as a REST export: a BigInt, which a peer may legitimately
// store in a map or array, is written as its decimal digits instead of
// failing the whole document. That is valid JSON; JavaScript's JSON.parse
// reads it as a Number, exact up to 2^53.
func ExportJSON(v Any) (string, error) { return stringify(v, true) }

func stringify(v Any, bigDigits bool) (string, error) {
	if _, ok := v.(undefinedType); ok {
		return "", ErrUndefined
	}
	b, err := appendJSON(nil, v, 0, bigDigits)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func appendJSON(dst []byte, v Any, depth int, bigDigits bool) ([]byte, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("lib0: value nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil, undefinedType:
		// Undefined reaches here only as an array element.
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...), nil
		}
		return appendNumber(dst, x), nil
	case BigInt:
		if bigDigits {
			return strconv.AppendInt(dst, int64(x), 10), nil
		}
		return nil, ErrBigInt
	case string:
		return appendQuoted(dst, x), nil
	case []byte:
		dst = append(dst, '{')
		for i, c := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, int64(i), 10)
			dst = append(dst, '"', ':')
			dst = strconv.AppendInt(dst, int64(c), 10)
		}
		return append(dst, '}'), nil
	case []Any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, el, depth+1, bigDigits); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case *Object:
		dst = append(dst, '{')
		first := true
		for _, k := range x.Keys() {
			el := x.vals[k]
			if _, ok := el.(undefinedType); ok {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendQuoted(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, el, depth+1, bigDigits); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	n, err := normalize(v, depth)
	if err != nil {
		return nil, err
	}
	if _, ok := n.(undefinedType); ok {
		return append(dst, "null"...), nil
	}
	return appendJSON(dst, n, depth, bigDigits)
}

const hexDigits = "0123456789abcdef"

// appendQuoted quotes s as JSON.stringify's QuoteJSONString does. Invalid
// UTF-8 is written as U+FFFD, the closest thing to the lone surrogates
// JavaScript would escape there.
func appendQuoted(dst []byte, s string) []byte {
	s = wellFormedString(s)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ParseJSON parses s as JSON.parse does: strict JSON grammar, every number a
// float64 (out-of-range ones become ±Infinity or 0 as in JavaScript),
// objects as *Object in JavaScript property order with the last duplicate
// key winning at the first one's place. Go strings cannot hold the lone
// surrogates that "\ud800"-style escapes produce in JavaScript, so each
// unpaired surrogate escape becomes U+FFFD (the same character TextEncoder
// would put on the wire for it). Invalid UTF-8 inside strings is likewise
// replaced. Nesting is limited to MaxDepth.
func ParseJSON(s string) (Any, error) {
	p := jsonParser{s: s}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected data after JSON value")
	}
	return v, nil
}

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: JSON at position %d: %s", ErrInvalid, p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(word string, v Any) (Any, error) {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return nil, p.errorf("invalid literal")
	}
	p.i += len(word)
	return v, nil
}

func (p *jsonParser) value(depth int) (Any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("nested deeper than %d", MaxDepth)
	}
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of JSON input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.errorf("unexpected character %q", p.s[p.i])
}

func (p *jsonParser) object(depth int) (Any, error) {
	p.i++ // '{'
	o := NewObject()
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return o, nil
	}
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expected string key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o.add(k.(string), v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("unexpected end of JSON input")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case '}':
			p.i++
			o.finish()
			return o, nil
		default:
			return nil, p.errorf("expected ',' or '}'")
		}
	}
}

func (p *jsonParser) array(depth int) (Any, error) {
	p.i++ // '['
	a := []Any{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("unexpected end of JSON input")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.errorf("expected ',' or ']'")
		}
	}
}

func (p *jsonParser) number() (Any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errorf("invalid number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	// ParseFloat rounds correctly like JavaScript and reports ErrRange
	// alongside the ±Inf or 0 that JavaScript also produces.
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, p.errorf("invalid number")
	}
	return f, nil
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.s)-p.i < 4 {
		return 0, false
	}
	var r rune
	for j := 0; j < 4; j++ {
		h := hexVal(p.s[p.i+j])
		if h < 0 {
			return 0, false
		}
		r = r<<4 | h
	}
	p.i += 4
	return r, true
}

func (p *jsonParser) str() (Any, error) {
	p.i++ // opening quote
	start := p.i
	// Fast path: no escapes, valid UTF-8.
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := p.s[start:p.i]
			p.i++
			return wellFormedString(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	b := []byte(p.s[start:p.i])
	for {
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(wellFormed(b)), nil
		case c < 0x20:
			return nil, p.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated string")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && strings.HasPrefix(p.s[p.i:], "\\u") {
					save := p.i
					p.i += 2
					r2, ok := p.hex4()
					if ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
						b = utf8.AppendRune(b, utf16.DecodeRune(r, r2))
						continue
					}
					// Not a low half: leave it to be read as its own escape.
					p.i = save
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
		default:
			return nil, p.errorf("invalid escape")
		}
	}
}
