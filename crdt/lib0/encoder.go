// Package lib0 is the binary encoding Yjs uses (the JavaScript library
// lib0's encoding.js and decoding.js): variable-length integers, strings,
// the self-describing "any" values, and the run-length column codecs of
// update format v2. The Yjs update codecs in package crdt and the sync
// protocol build on it.
//
// The goal is byte-for-byte agreement with lib0, so JavaScript semantics
// leak into the Go API on purpose: every JS number is a float64, object
// keys keep JavaScript's property order, and lengths that Yjs measures in
// UTF-16 code units are measured that way here too.
package lib0

import (
	"encoding/binary"
	"math"
)

// MaxSafeInteger is the largest integer a JavaScript number holds exactly
// (2^53-1). lib0 refuses to decode larger variable-length integers.
const MaxSafeInteger = 1<<53 - 1

// Encoder appends lib0-encoded values to a byte slice. The zero value is
// ready to use.
type Encoder struct {
	buf []byte
}

// Bytes returns the encoded data. It aliases the encoder's buffer, so it is
// only valid until the next write or Reset.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns the number of bytes written so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset empties the encoder but keeps its buffer for reuse.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// WriteUint8 writes one raw byte.
func (e *Encoder) WriteUint8(b byte) { e.buf = append(e.buf, b) }

// WriteVarUint writes v in 7-bit groups, low group first. lib0 decoders
// reject values above MaxSafeInteger, so only write those to Go peers.
func (e *Encoder) WriteVarUint(v uint64) {
	for v > 0x7f {
		e.buf = append(e.buf, 0x80|byte(v&0x7f))
		v >>= 7
	}
	e.buf = append(e.buf, byte(v))
}

// WriteVarInt writes v in lib0's signed format: the first byte carries a
// continuation bit, a sign bit (0x40) and six magnitude bits. It is
// sign-magnitude, not zigzag.
func (e *Encoder) WriteVarInt(v int64) {
	if v < 0 {
		// Converting before negating keeps math.MinInt64 correct.
		e.WriteVarIntSign(-uint64(v), true)
		return
	}
	e.WriteVarIntSign(uint64(v), false)
}

// WriteVarIntSign writes a signed varInt from its magnitude and sign. It
// exists because the v2 run-length codecs write -0, which int64 cannot hold.
func (e *Encoder) WriteVarIntSign(abs uint64, neg bool) {
	b := byte(abs & 0x3f)
	if neg {
		b |= 0x40
	}
	abs >>= 6
	if abs > 0 {
		b |= 0x80
	}
	e.buf = append(e.buf, b)
	for abs > 0 {
		b = byte(abs & 0x7f)
		abs >>= 7
		if abs > 0 {
			b |= 0x80
		}
		e.buf = append(e.buf, b)
	}
}

// WriteVarString writes the UTF-8 byte length and the bytes of s. Invalid
// UTF-8 is replaced by U+FFFD, as TextEncoder does for lone surrogates, so
// that lib0's fatal decoder on the other side accepts the result.
func (e *Encoder) WriteVarString(s string) {
	s = wellFormedString(s)
	e.WriteVarUint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// WriteVarStringBytes is WriteVarString for text held as UTF-8 bytes.
func (e *Encoder) WriteVarStringBytes(b []byte) {
	b = wellFormed(b)
	e.WriteVarUint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// WriteVarBytes writes a varUint length followed by b (lib0's
// writeVarUint8Array).
func (e *Encoder) WriteVarBytes(b []byte) {
	e.WriteVarUint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// WriteBytes appends b without a length prefix.
func (e *Encoder) WriteBytes(b []byte) { e.buf = append(e.buf, b...) }

// WriteFloat32 writes f big-endian, as DataView#setFloat32 does by default.
func (e *Encoder) WriteFloat32(f float32) {
	e.buf = binary.BigEndian.AppendUint32(e.buf, math.Float32bits(f))
}

// WriteFloat64 writes f big-endian.
func (e *Encoder) WriteFloat64(f float64) {
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// WriteBigInt64 writes v as a big-endian two's-complement 64-bit integer.
func (e *Encoder) WriteBigInt64(v int64) {
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v))
}
