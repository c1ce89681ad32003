package lib0

import (
	"unicode/utf16"
	"unicode/utf8"
)

// UTF16Len returns how many UTF-16 code units the UTF-8 text b takes, which
// is what JavaScript's String#length reports and what Yjs counts clocks and
// offsets in. Invalid UTF-8 counts as the U+FFFD characters it becomes on
// the wire (one per maximal ill-formed subsequence).
func UTF16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			// Text is mostly ASCII; skip the rune decoder for it.
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			size = maximalSubpart(b[i:])
		}
		i += size
		n += utf16.RuneLen(r)
	}
	return n
}

// UTF16LenString is UTF16Len for a string, without a copy.
func UTF16LenString(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			size = maximalSubpartString(s[i:])
		}
		i += size
		n += utf16.RuneLen(r)
	}
	return n
}

// UTF16Offset converts an offset counted in UTF-16 code units into a byte
// offset into the UTF-8 text b. Yjs may split text between the two halves
// of a surrogate pair, which has no UTF-8 equivalent: then splitsSurrogate
// is true and byteOff is the start of the astral character, so the caller
// can replace it as ContentString#splice does. An offset past the end
// yields len(b).
func UTF16Offset(b []byte, units int) (byteOff int, splitsSurrogate bool) {
	byteOff, splitsSurrogate, _ = utf16Seek(b, units)
	return byteOff, splitsSurrogate
}

// utf16Seek is UTF16Offset that also reports whether b was long enough.
func utf16Seek(b []byte, units int) (byteOff int, splitsSurrogate, ok bool) {
	i := 0
	for units > 0 && i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			units--
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			size = maximalSubpart(b[i:])
		}
		if r >= 0x10000 {
			if units == 1 {
				return i, true, true
			}
			units -= 2
		} else {
			units--
		}
		i += size
	}
	return i, false, units <= 0
}

// appendWellFormed appends b to dst, replacing every maximal ill-formed
// subsequence with U+FFFD the way the WHATWG UTF-8 decoder does. Go strings
// may hold arbitrary bytes, but the wire must carry what a JavaScript
// TextEncoder could have produced.
func appendWellFormed(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			dst = append(dst, b[i:i+size]...)
			i += size
			continue
		}
		dst = append(dst, "\uFFFD"...)
		i += maximalSubpart(b[i:])
	}
	return dst
}

// maximalSubpart returns the length of the ill-formed prefix of b that a
// WHATWG decoder turns into a single U+FFFD: a lead byte plus as many
// continuation bytes as were still acceptable, or one stray byte.
func maximalSubpart(b []byte) int {
	return maximalSubpartOf(b[0], len(b), func(i int) byte { return b[i] })
}

func maximalSubpartString(s string) int {
	return maximalSubpartOf(s[0], len(s), func(i int) byte { return s[i] })
}

func maximalSubpartOf(c byte, n0 int, at func(int) byte) int {
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < n0; n++ {
		if c := at(n); c < lo || c > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}

// appendWellFormedString is appendWellFormed for a string source.
func appendWellFormedString(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		return append(dst, s...)
	}
	return appendWellFormed(dst, []byte(s))
}

// wellFormed returns b unchanged when it is valid UTF-8, else a repaired copy.
func wellFormed(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return appendWellFormed(make([]byte, 0, len(b)+8), b)
}

// wellFormedString is wellFormed for strings.
func wellFormedString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(appendWellFormed(make([]byte, 0, len(s)+8), []byte(s)))
}
