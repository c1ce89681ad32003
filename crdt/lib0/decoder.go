package lib0

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Errors reported by Decoder.Err wrap one of these, so callers can tell
// truncated input from malformed input with errors.Is.
var (
	ErrUnexpectedEOF = errors.New("lib0: unexpected end of data")
	ErrInvalid       = errors.New("lib0: invalid data")
)

// Decoder reads lib0-encoded values from a byte slice.
//
// Errors are sticky: after the first failure every read returns a zero
// value and Err reports that failure, so a caller can read a whole
// structure and check once. Lengths and counts are checked against the
// bytes that remain before anything is allocated, so hostile input cannot
// make the decoder allocate much more than its own size.
type Decoder struct {
	buf []byte
	pos int
	err error
}

// NewDecoder returns a decoder reading b. Slices returned by the decoder
// alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Reset makes the decoder read b from the start, clearing any error.
func (d *Decoder) Reset(b []byte) { *d = Decoder{buf: b} }

// Err returns the first error the decoder met, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining returns the number of unread bytes; it is 0 once the decoder
// has failed, so loops that run until the input is used up terminate.
func (d *Decoder) Remaining() int { return len(d.buf) - d.pos }

// Pos returns the offset of the next unread byte.
func (d *Decoder) Pos() int { return d.pos }

// Fail records err as the decoder's error unless it already has one, and
// makes every further read return a zero value. Callers use it to report
// semantic errors through the same sticky channel.
func (d *Decoder) Fail(err error) {
	if d.err == nil && err != nil {
		d.err = err
		d.pos = len(d.buf)
	}
}

func (d *Decoder) failf(base error, format string, args ...any) {
	if d.err == nil {
		d.Fail(fmt.Errorf("%w at byte %d: %s", base, d.pos, fmt.Sprintf(format, args...)))
	}
}

// ReadUint8 reads one raw byte.
func (d *Decoder) ReadUint8() byte {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.buf) {
		d.failf(ErrUnexpectedEOF, "reading uint8")
		return 0
	}
	b := d.buf[d.pos]
	d.pos++
	return b
}

// ReadVarUint reads an unsigned varUint. Like lib0 it accepts redundant
// zero groups, and it rejects values above MaxSafeInteger: lib0 throws for
// most of those and silently rounds the rest, which could never round-trip.
func (d *Decoder) ReadVarUint() uint64 {
	if d.err != nil {
		return 0
	}
	start := d.pos
	var v uint64
	var shift uint
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		d.pos++
		if g := uint64(c & 0x7f); g != 0 {
			if shift >= 53 || g<<shift > MaxSafeInteger-v {
				d.pos = start
				d.failf(ErrInvalid, "varUint above 2^53-1")
				return 0
			}
			v += g << shift
		}
		if c < 0x80 {
			return v
		}
		shift += 7
	}
	d.pos = start
	d.failf(ErrUnexpectedEOF, "reading varUint")
	return 0
}

// ReadVarIntSign reads a signed varInt as magnitude and sign, keeping the
// difference between 0 and -0 that the v2 run-length codecs rely on.
func (d *Decoder) ReadVarIntSign() (abs uint64, neg bool) {
	if d.err != nil {
		return 0, false
	}
	start := d.pos
	if d.pos >= len(d.buf) {
		d.failf(ErrUnexpectedEOF, "reading varInt")
		return 0, false
	}
	c := d.buf[d.pos]
	d.pos++
	v := uint64(c & 0x3f)
	neg = c&0x40 != 0
	if c < 0x80 {
		return v, neg
	}
	shift := uint(6)
	for d.pos < len(d.buf) {
		c = d.buf[d.pos]
		d.pos++
		if g := uint64(c & 0x7f); g != 0 {
			if shift >= 53 || g<<shift > MaxSafeInteger-v {
				d.pos = start
				d.failf(ErrInvalid, "varInt magnitude above 2^53-1")
				return 0, false
			}
			v += g << shift
		}
		if c < 0x80 {
			return v, neg
		}
		shift += 7
	}
	d.pos = start
	d.failf(ErrUnexpectedEOF, "reading varInt")
	return 0, false
}

// ReadVarInt reads a signed varInt; -0 comes back as 0.
func (d *Decoder) ReadVarInt() int64 {
	abs, neg := d.ReadVarIntSign()
	if neg {
		return -int64(abs)
	}
	return int64(abs)
}

// take returns the next n bytes as a capped sub-slice, so appending to the
// result can never overwrite the input.
func (d *Decoder) take(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)-d.pos) {
		d.failf(ErrUnexpectedEOF, "%s of %d bytes, %d left", what, n, len(d.buf)-d.pos)
		return nil
	}
	end := d.pos + int(n)
	b := d.buf[d.pos:end:end]
	d.pos = end
	return b
}

// ReadVarStringBytes reads a varString and returns its bytes as a capped
// sub-slice of the input, without copying. Like lib0's fatal TextDecoder it
// rejects invalid UTF-8 and keeps a leading BOM.
func (d *Decoder) ReadVarStringBytes() []byte {
	start := d.pos
	b := d.take(d.ReadVarUint(), "varString")
	if d.err != nil {
		return nil
	}
	if !utf8.Valid(b) {
		d.pos = start
		d.failf(ErrInvalid, "varString is not valid UTF-8")
		return nil
	}
	return b
}

// ReadVarString reads a varString; see ReadVarStringBytes.
func (d *Decoder) ReadVarString() string {
	return string(d.ReadVarStringBytes())
}

// ReadVarBytes reads a varUint length and that many bytes (lib0's
// readVarUint8Array), as a capped sub-slice of the input.
func (d *Decoder) ReadVarBytes() []byte {
	b := d.take(d.ReadVarUint(), "varUint8Array")
	if d.err != nil {
		return nil
	}
	return b
}

// ReadBytes reads exactly n bytes as a capped sub-slice of the input.
func (d *Decoder) ReadBytes(n int) []byte {
	if n < 0 {
		d.failf(ErrInvalid, "negative length %d", n)
		return nil
	}
	return d.take(uint64(n), "bytes")
}

// ReadFloat32 reads a big-endian float32.
func (d *Decoder) ReadFloat32() float32 {
	b := d.take(4, "float32")
	if b == nil {
		return 0
	}
	return math.Float32frombits(binary.BigEndian.Uint32(b))
}

// ReadFloat64 reads a big-endian float64.
func (d *Decoder) ReadFloat64() float64 {
	b := d.take(8, "float64")
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b))
}

// ReadBigInt64 reads a big-endian two's-complement int64.
func (d *Decoder) ReadBigInt64() int64 {
	b := d.take(8, "bigint64")
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}
