package lib0

// The column codecs of Yjs update format v2. Each produces a byte slice
// that the update encoder stores as one varUint8Array column. Their
// Bytes methods flush the pending run, so they may be called more than
// once (lib0's toUint8Array may not), and writing after Bytes starts a
// new run that still decodes to the same values.

// RleEncoder run-length encodes bytes as lib0's RleEncoder(writeUint8):
// each new value is written raw, and the length of the previous run minus
// one as a varUint once a different value arrives. The last run's length
// is never written; the decoder repeats the last value forever.
type RleEncoder struct {
	e     Encoder
	s     byte
	count uint64
}

// Write appends one value.
func (r *RleEncoder) Write(v byte) {
	if r.count > 0 && r.s == v {
		r.count++
		return
	}
	if r.count > 0 {
		r.e.WriteVarUint(r.count - 1)
	}
	r.count = 1
	r.e.WriteUint8(v)
	r.s = v
}

// Bytes returns the encoded column, aliasing the encoder's buffer.
func (r *RleEncoder) Bytes() []byte { return r.e.Bytes() }

// RleDecoder reads a column written by RleEncoder.
type RleDecoder struct {
	d       Decoder
	s       byte
	count   uint64
	forever bool
}

// NewRleDecoder returns a decoder for the column b.
func NewRleDecoder(b []byte) *RleDecoder { return &RleDecoder{d: Decoder{buf: b}} }

// Read returns the next value. After the column's last explicit run the
// last value repeats indefinitely, as in lib0.
func (r *RleDecoder) Read() byte {
	if r.d.err != nil {
		return 0
	}
	if r.forever {
		return r.s
	}
	if r.count == 0 {
		r.s = r.d.ReadUint8()
		if r.d.err != nil {
			return 0
		}
		if r.d.Remaining() > 0 {
			r.count = r.d.ReadVarUint() + 1
			if r.d.err != nil {
				return 0
			}
		} else {
			r.forever = true
			return r.s
		}
	}
	r.count--
	return r.s
}

// Err returns the first decoding error.
func (r *RleDecoder) Err() error { return r.d.err }

// UintOptRleEncoder run-length encodes unsigned integers as lib0's
// UintOptRleEncoder: a value that occurs once is a plain varInt; a run is
// the value as a negative varInt (so 0 becomes -0) followed by varUint
// count-2.
type UintOptRleEncoder struct {
	e     Encoder
	s     uint64
	count uint64
}

// Write appends one value.
func (u *UintOptRleEncoder) Write(v uint64) {
	if u.s == v {
		u.count++
		return
	}
	u.flush()
	u.count = 1
	u.s = v
}

func (u *UintOptRleEncoder) flush() {
	if u.count == 0 {
		return
	}
	u.e.WriteVarIntSign(u.s, u.count > 1)
	if u.count > 1 {
		u.e.WriteVarUint(u.count - 2)
	}
	u.count = 0
}

// Bytes flushes the pending run and returns the encoded column, aliasing
// the encoder's buffer.
func (u *UintOptRleEncoder) Bytes() []byte {
	u.flush()
	return u.e.Bytes()
}

// UintOptRleDecoder reads a column written by UintOptRleEncoder.
type UintOptRleDecoder struct {
	d     Decoder
	s     uint64
	count uint64
}

// NewUintOptRleDecoder returns a decoder for the column b.
func NewUintOptRleDecoder(b []byte) *UintOptRleDecoder {
	return &UintOptRleDecoder{d: Decoder{buf: b}}
}

// Read returns the next value. Reading past the end of the column is an
// error here; lib0 quietly returns 0 because its readVarInt reads
// undefined as 0.
func (u *UintOptRleDecoder) Read() uint64 {
	if u.d.err != nil {
		return 0
	}
	if u.count == 0 {
		abs, neg := u.d.ReadVarIntSign()
		if u.d.err != nil {
			return 0
		}
		u.s = abs
		u.count = 1
		if neg {
			u.count = u.d.ReadVarUint() + 2
			if u.d.err != nil {
				return 0
			}
		}
	}
	u.count--
	return u.s
}

// Err returns the first decoding error.
func (u *UintOptRleDecoder) Err() error { return u.d.err }

// IntDiffOptRleEncoder encodes integers as lib0's IntDiffOptRleEncoder:
// runs of equal differences, each written as varInt(diff*2 + hasCount)
// followed by varUint count-2 when the run is longer than one.
type IntDiffOptRleEncoder struct {
	e     Encoder
	s     int64
	count uint64
	diff  int64
}

// Write appends one value.
func (c *IntDiffOptRleEncoder) Write(v int64) {
	if c.diff == v-c.s {
		c.s = v
		c.count++
		return
	}
	c.flush()
	c.count = 1
	c.diff = v - c.s
	c.s = v
}

func (c *IntDiffOptRleEncoder) flush() {
	if c.count == 0 {
		return
	}
	enc := c.diff * 2
	if c.count > 1 {
		enc++
	}
	c.e.WriteVarInt(enc)
	if c.count > 1 {
		c.e.WriteVarUint(c.count - 2)
	}
	c.count = 0
}

// Bytes flushes the pending run and returns the encoded column, aliasing
// the encoder's buffer.
func (c *IntDiffOptRleEncoder) Bytes() []byte {
	c.flush()
	return c.e.Bytes()
}

// IntDiffOptRleDecoder reads a column written by IntDiffOptRleEncoder.
type IntDiffOptRleDecoder struct {
	d     Decoder
	s     int64
	count uint64
	diff  int64
}

// NewIntDiffOptRleDecoder returns a decoder for the column b.
func NewIntDiffOptRleDecoder(b []byte) *IntDiffOptRleDecoder {
	return &IntDiffOptRleDecoder{d: Decoder{buf: b}}
}

// Read returns the next value. Reading past the end of the column is an
// error (lib0 would repeat the last value). Values outside ±MaxSafeInteger
// are an error too, since JavaScript could not have written them.
func (c *IntDiffOptRleDecoder) Read() int64 {
	if c.d.err != nil {
		return 0
	}
	if c.count == 0 {
		enc := c.d.ReadVarInt()
		if c.d.err != nil {
			return 0
		}
		// Arithmetic shift is floor(enc/2), which is what lib0 computes;
		// the low bit of a negative number is that of its magnitude, as
		// with JavaScript's `& 1`.
		c.diff = enc >> 1
		c.count = 1
		if enc&1 != 0 {
			c.count = c.d.ReadVarUint() + 2
			if c.d.err != nil {
				return 0
			}
		}
	}
	next := c.s + c.diff
	if next > MaxSafeInteger || next < -MaxSafeInteger {
		c.d.failf(ErrInvalid, "integer column leaves the safe integer range")
		return 0
	}
	c.s = next
	c.count--
	return c.s
}

// Err returns the first decoding error.
func (c *IntDiffOptRleDecoder) Err() error { return c.d.err }

// StringEncoder is lib0's StringEncoder: all strings are concatenated into
// one varString, followed by a UintOptRle column of their lengths in UTF-16
// code units (JavaScript's String#length).
type StringEncoder struct {
	buf  []byte
	lens UintOptRleEncoder
	out  Encoder
}

// Write appends one string.
func (s *StringEncoder) Write(str string) {
	start := len(s.buf)
	s.buf = appendWellFormedString(s.buf, str)
	s.lens.Write(uint64(UTF16Len(s.buf[start:])))
}

// WriteBytes appends one string given as UTF-8 bytes.
func (s *StringEncoder) WriteBytes(b []byte) {
	start := len(s.buf)
	s.buf = appendWellFormed(s.buf, b)
	s.lens.Write(uint64(UTF16Len(s.buf[start:])))
}

// Bytes returns the encoded column. The result is only valid until the
// next call of a method of s.
func (s *StringEncoder) Bytes() []byte {
	s.out.Reset()
	s.out.WriteVarUint(uint64(len(s.buf)))
	s.out.WriteBytes(s.buf)
	s.out.WriteBytes(s.lens.Bytes())
	return s.out.Bytes()
}

// StringDecoder reads a column written by StringEncoder.
type StringDecoder struct {
	str  []byte
	pos  int  // byte offset of the next unread text
	half bool // the previous read ended between the halves of the astral character at pos
	lens UintOptRleDecoder
}

// NewStringDecoder returns a decoder for the column b. Invalid UTF-8 in the
// concatenated text is an error, reported by Err.
func NewStringDecoder(b []byte) *StringDecoder {
	s := &StringDecoder{lens: UintOptRleDecoder{d: Decoder{buf: b}}}
	s.str = s.lens.d.ReadVarStringBytes()
	return s
}

// ReadBytes returns the next string as UTF-8 bytes. When the stored
// lengths cut an astral character in two (JavaScript lets that happen and
// then holds a lone surrogate), each half becomes U+FFFD, which keeps
// every UTF-16 length intact; only then is the result a fresh slice, else
// it is a capped sub-slice of the input. A length running past the end of
// the text is an error (lib0 would return a shortened string).
func (s *StringDecoder) ReadBytes() []byte {
	n := s.lens.Read()
	if s.lens.d.err != nil {
		return nil
	}
	if n == 0 {
		return []byte{}
	}
	var out []byte // non-nil once a surrogate half forces a copy
	start := s.pos
	if s.half {
		out = append(make([]byte, 0, 8), "\uFFFD"...)
		s.pos += 4
		s.half = false
		n--
		start = s.pos
	}
	rest := s.str[s.pos:]
	if n > uint64(len(rest)) {
		// Every code unit takes at least one byte.
		s.lens.d.failf(ErrInvalid, "string length %d exceeds the remaining text", n)
		return nil
	}
	off, split, ok := utf16Seek(rest, int(n))
	if !ok {
		s.lens.d.failf(ErrInvalid, "string length %d exceeds the remaining text", n)
		return nil
	}
	s.pos += off
	seg := s.str[start:s.pos:s.pos]
	if split {
		out = append(out, seg...)
		out = append(out, "\uFFFD"...)
		s.half = true
		return out
	}
	if out != nil {
		return append(out, seg...)
	}
	return seg
}

// Read returns the next string; see ReadBytes.
func (s *StringDecoder) Read() string { return string(s.ReadBytes()) }

// Err returns the first decoding error.
func (s *StringDecoder) Err() error { return s.lens.d.err }
