package crdt

import (
	"fmt"
	"math"

	"github.com/quirehq/quire/crdt/lib0"
)

// The update codecs mirror yjs' UpdateEncoderV1/V2, DSEncoderV1/V2,
// UpdateDecoderV1/V2 and DSDecoderV1/V2 (src/utils/UpdateEncoder.js and
// UpdateDecoder.js): the struct and delete-set code calls the same methods
// in the same order for both formats, and only these types know whether a
// field goes to the single v1 stream or to one of the v2 columns. Counts,
// first clocks and Skip lengths go straight to rest() in both formats.

type dsEncoder interface {
	rest() *lib0.Encoder
	resetDsCurVal()
	writeDsClock(clock uint64)
	writeDsLen(n uint64)
	toBytes() []byte // may alias the encoder's buffer: stop writing once it is taken
}

type updateEncoder interface {
	dsEncoder
	writeLeftID(id ID)
	writeRightID(id ID)
	writeClient(client uint64)
	writeInfo(info byte)
	writeString(s string)
	writeStringBytes(b []byte) // same as writeString, from UTF-8 bytes
	writeParentInfo(isYKey bool)
	writeTypeRef(ref uint8)
	writeLen(n uint64)
	writeAny(v lib0.Any)
	writeBuf(b []byte)
	writeJSON(v lib0.Any) // v1: varString(JSON.stringify(v)), "undefined" for Undefined; v2: writeAny
	writeKey(key string)  // v2: a keyClock entry plus the key in the string column
}

type dsDecoder interface {
	rest() *lib0.Decoder
	resetDsCurVal()
	readDsClock() uint64
	readDsLen() uint64
	err() error // first error of the rest decoder or any column
}

type updateDecoder interface {
	dsDecoder
	readLeftID() ID
	readRightID() ID
	readClient() uint64
	readInfo() byte
	readString() string
	readStringBytes() []byte // capped sub-slice, valid UTF-8, must not be modified by the caller
	readParentInfo() bool
	readTypeRef() uint8
	readLen() uint64
	readAny() lib0.Any
	readBuf() []byte    // a copy the caller may keep
	readJSON() lib0.Any // v1 also accepts the text "undefined", as lib0.Undefined
	readKey() string
}

// errCodec marks semantic errors in otherwise well-formed lib0 data.
var errCodec = fmt.Errorf("%w: update", lib0.ErrInvalid)

// --- v1 ---

type dsEncoderV1 struct{ e lib0.Encoder }

func newDSEncoderV1() dsEncoder { return &dsEncoderV1{} }

func (c *dsEncoderV1) rest() *lib0.Encoder       { return &c.e }
func (c *dsEncoderV1) resetDsCurVal()            {}
func (c *dsEncoderV1) writeDsClock(clock uint64) { c.e.WriteVarUint(clock) }
func (c *dsEncoderV1) writeDsLen(n uint64)       { c.e.WriteVarUint(n) }
func (c *dsEncoderV1) toBytes() []byte           { return c.e.Bytes() }

type updateEncoderV1 struct{ dsEncoderV1 }

func newUpdateEncoderV1() updateEncoder { return &updateEncoderV1{} }

func (c *updateEncoderV1) writeLeftID(id ID) {
	c.e.WriteVarUint(id.Client)
	c.e.WriteVarUint(id.Clock)
}

func (c *updateEncoderV1) writeRightID(id ID) {
	c.e.WriteVarUint(id.Client)
	c.e.WriteVarUint(id.Clock)
}

func (c *updateEncoderV1) writeClient(client uint64) { c.e.WriteVarUint(client) }
func (c *updateEncoderV1) writeInfo(info byte)       { c.e.WriteUint8(info) }
func (c *updateEncoderV1) writeString(s string)      { c.e.WriteVarString(s) }
func (c *updateEncoderV1) writeStringBytes(b []byte) { c.e.WriteVarStringBytes(b) }

func (c *updateEncoderV1) writeParentInfo(isYKey bool) {
	if isYKey {
		c.e.WriteVarUint(1)
	} else {
		c.e.WriteVarUint(0)
	}
}

func (c *updateEncoderV1) writeTypeRef(ref uint8) { c.e.WriteVarUint(uint64(ref)) }
func (c *updateEncoderV1) writeLen(n uint64)      { c.e.WriteVarUint(n) }
func (c *updateEncoderV1) writeAny(v lib0.Any)    { c.e.WriteAny(v) }
func (c *updateEncoderV1) writeBuf(b []byte)      { c.e.WriteVarBytes(b) }
func (c *updateEncoderV1) writeKey(key string)    { c.e.WriteVarString(key) }

// writeJSON writes the text "undefined" for Undefined, as yjs' ContentJSON
// does, because JSON.stringify has no text for it and a reader must still
// find a string there.
func (c *updateEncoderV1) writeJSON(v lib0.Any) {
	s, err := lib0.StringifyJSON(v)
	if err != nil {
		// Undefined, or a BigInt that JSON.stringify would throw on. yjs
		// cannot produce either here; "undefined" at least keeps the
		// stream readable.
		s = "undefined"
	}
	c.e.WriteVarString(s)
}

type dsDecoderV1 struct{ d *lib0.Decoder }

func newDSDecoderV1(b []byte) dsDecoder { return &dsDecoderV1{d: lib0.NewDecoder(b)} }

func (c *dsDecoderV1) rest() *lib0.Decoder { return c.d }
func (c *dsDecoderV1) resetDsCurVal()      {}
func (c *dsDecoderV1) readDsClock() uint64 { return c.d.ReadVarUint() }
func (c *dsDecoderV1) readDsLen() uint64   { return c.d.ReadVarUint() }
func (c *dsDecoderV1) err() error          { return c.d.Err() }

type updateDecoderV1 struct{ dsDecoderV1 }

func newUpdateDecoderV1(b []byte) updateDecoder {
	return &updateDecoderV1{dsDecoderV1{d: lib0.NewDecoder(b)}}
}

func (c *updateDecoderV1) readLeftID() ID  { return c.readID() }
func (c *updateDecoderV1) readRightID() ID { return c.readID() }

func (c *updateDecoderV1) readID() ID {
	client := c.d.ReadVarUint()
	clock := c.d.ReadVarUint()
	if c.d.Err() != nil {
		return ID{}
	}
	return ID{Client: client, Clock: clock}
}

func (c *updateDecoderV1) readClient() uint64      { return c.d.ReadVarUint() }
func (c *updateDecoderV1) readInfo() byte          { return c.d.ReadUint8() }
func (c *updateDecoderV1) readString() string      { return c.d.ReadVarString() }
func (c *updateDecoderV1) readStringBytes() []byte { return c.d.ReadVarStringBytes() }

// readParentInfo treats every value but 1 as "parent is an ID", as yjs
// does (`=== 1`).
func (c *updateDecoderV1) readParentInfo() bool { return c.d.ReadVarUint() == 1 }

func (c *updateDecoderV1) readTypeRef() uint8 { return typeRef(c.d, c.d.ReadVarUint()) }
func (c *updateDecoderV1) readLen() uint64    { return c.d.ReadVarUint() }
func (c *updateDecoderV1) readAny() lib0.Any  { return c.d.ReadAny() }
func (c *updateDecoderV1) readKey() string    { return c.d.ReadVarString() }

func (c *updateDecoderV1) readBuf() []byte {
	b := c.d.ReadVarBytes()
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// readJSON accepts the text "undefined" although JSON.parse would throw on
// it, because our own writeJSON produces it for Undefined.
func (c *updateDecoderV1) readJSON() lib0.Any {
	s := c.d.ReadVarString()
	if c.d.Err() != nil {
		return nil
	}
	if s == "undefined" {
		return lib0.Undefined
	}
	v, err := lib0.ParseJSON(s)
	if err != nil {
		c.d.Fail(err)
		return nil
	}
	return v
}

// typeRef narrows a type reference to a byte. yjs knows refs 0–6; anything
// that does not fit a byte is certainly corrupt.
func typeRef(d *lib0.Decoder, v uint64) uint8 {
	if v > math.MaxUint8 {
		d.Fail(fmt.Errorf("%w: type ref %d", errCodec, v))
		return 0
	}
	return uint8(v)
}

// --- v2 ---

type dsEncoderV2 struct {
	e      lib0.Encoder
	curVal uint64
}

func newDSEncoderV2() dsEncoder { return &dsEncoderV2{} }

func (c *dsEncoderV2) rest() *lib0.Encoder { return &c.e }
func (c *dsEncoderV2) resetDsCurVal()      { c.curVal = 0 }
func (c *dsEncoderV2) toBytes() []byte     { return c.e.Bytes() }

// writeDsClock writes the gap since the end of the previous range, so a
// client's ranges must come sorted and merged, as yjs' sortAndMergeDeleteSet
// leaves them. yjs itself never writes anything else, but a malformed
// peer's delete set passed through unchanged could: then the range is
// moved to start where the previous one ended. yjs would write a corrupt
// negative varUint there; a panic would let a remote peer crash us.
func (c *dsEncoderV2) writeDsClock(clock uint64) {
	c.e.WriteVarUint(max(clock, c.curVal) - c.curVal)
	c.curVal = max(clock, c.curVal)
}

// writeDsLen writes n-1, so v2 cannot express an empty range (yjs throws
// on one). Callers should drop empty ranges, which v1 input may carry; one
// that slips through is written as length 1 rather than panicking, for the
// reason given at writeDsClock.
func (c *dsEncoderV2) writeDsLen(n uint64) {
	n = max(n, 1)
	c.e.WriteVarUint(n - 1)
	c.curVal += n
}

type updateEncoderV2 struct {
	dsEncoderV2
	// clockRange is set once an origin or parent clock at or above
	// clockLimit was written: the column may then hold a difference lib0
	// cannot read back. A Doc never writes one; the update functions
	// check it and fail instead of returning such bytes.
	clockRange bool
	keyClock   int64
	keyClocks  lib0.IntDiffOptRleEncoder
	clients    lib0.UintOptRleEncoder
	leftClock  lib0.IntDiffOptRleEncoder
	rightClock lib0.IntDiffOptRleEncoder
	info       lib0.RleEncoder
	strings    lib0.StringEncoder
	parentInfo lib0.RleEncoder
	typeRefs   lib0.UintOptRleEncoder
	lens       lib0.UintOptRleEncoder
}

func newUpdateEncoderV2() updateEncoder { return &updateEncoderV2{} }

func (c *updateEncoderV2) toBytes() []byte {
	var out lib0.Encoder
	out.WriteVarUint(0) // feature flag, unused so far
	out.WriteVarBytes(c.keyClocks.Bytes())
	out.WriteVarBytes(c.clients.Bytes())
	out.WriteVarBytes(c.leftClock.Bytes())
	out.WriteVarBytes(c.rightClock.Bytes())
	out.WriteVarBytes(c.info.Bytes())
	out.WriteVarBytes(c.strings.Bytes())
	out.WriteVarBytes(c.parentInfo.Bytes())
	out.WriteVarBytes(c.typeRefs.Bytes())
	out.WriteVarBytes(c.lens.Bytes())
	// The rest stream has no length prefix: it runs to the end.
	out.WriteBytes(c.e.Bytes())
	return out.Bytes()
}

func (c *updateEncoderV2) writeLeftID(id ID) {
	c.clockRange = c.clockRange || id.Clock >= clockLimit
	c.clients.Write(id.Client)
	c.leftClock.Write(int64(id.Clock))
}

func (c *updateEncoderV2) writeRightID(id ID) {
	c.clockRange = c.clockRange || id.Clock >= clockLimit
	c.clients.Write(id.Client)
	c.rightClock.Write(int64(id.Clock))
}

func (c *updateEncoderV2) writeClient(client uint64) { c.clients.Write(client) }
func (c *updateEncoderV2) writeInfo(info byte)       { c.info.Write(info) }
func (c *updateEncoderV2) writeString(s string)      { c.strings.Write(s) }
func (c *updateEncoderV2) writeStringBytes(b []byte) { c.strings.WriteBytes(b) }

func (c *updateEncoderV2) writeParentInfo(isYKey bool) {
	if isYKey {
		c.parentInfo.Write(1)
	} else {
		c.parentInfo.Write(0)
	}
}

func (c *updateEncoderV2) writeTypeRef(ref uint8) { c.typeRefs.Write(uint64(ref)) }
func (c *updateEncoderV2) writeLen(n uint64)      { c.lens.Write(n) }
func (c *updateEncoderV2) writeAny(v lib0.Any)    { c.e.WriteAny(v) }
func (c *updateEncoderV2) writeBuf(b []byte)      { c.e.WriteVarBytes(b) }
func (c *updateEncoderV2) writeJSON(v lib0.Any)   { c.e.WriteAny(v) }

// writeKey always spends a new key clock and repeats the key in the string
// column: yjs has the key cache disabled (its keyMap.set is commented out)
// and readers depend on that, so caching here would break byte equality.
func (c *updateEncoderV2) writeKey(key string) {
	c.keyClocks.Write(c.keyClock)
	c.keyClock++
	c.strings.Write(key)
}

type dsDecoderV2 struct {
	d      *lib0.Decoder
	curVal uint64
}

func newDSDecoderV2(b []byte) dsDecoder { return &dsDecoderV2{d: lib0.NewDecoder(b)} }

func (c *dsDecoderV2) rest() *lib0.Decoder { return c.d }
func (c *dsDecoderV2) resetDsCurVal()      { c.curVal = 0 }
func (c *dsDecoderV2) err() error          { return c.d.Err() }

func (c *dsDecoderV2) readDsClock() uint64 {
	c.curVal = c.safeAdd(c.curVal, c.d.ReadVarUint())
	return c.curVal
}

func (c *dsDecoderV2) readDsLen() uint64 {
	n := c.d.ReadVarUint() + 1
	if c.d.Err() != nil {
		return 0
	}
	c.curVal = c.safeAdd(c.curVal, n)
	return n
}

// safeAdd keeps delta-coded clocks within what JavaScript could represent.
func (c *dsDecoderV2) safeAdd(a, b uint64) uint64 {
	if c.d.Err() != nil {
		return 0
	}
	if b > lib0.MaxSafeInteger-a {
		c.d.Fail(fmt.Errorf("%w: delete-set clock above 2^53-1", errCodec))
		return 0
	}
	return a + b
}

type updateDecoderV2 struct {
	dsDecoderV2
	keys       []string
	keyClocks  *lib0.IntDiffOptRleDecoder
	clients    *lib0.UintOptRleDecoder
	leftClock  *lib0.IntDiffOptRleDecoder
	rightClock *lib0.IntDiffOptRleDecoder
	info       *lib0.RleDecoder
	strings    *lib0.StringDecoder
	parentInfo *lib0.RleDecoder
	typeRefs   *lib0.UintOptRleDecoder
	lens       *lib0.UintOptRleDecoder
	// keyBudget bounds the bytes of reused keys: a key clock can name the
	// same long key again and again for almost no input, which would let a
	// tiny update build megabytes of strings.
	keyBudget int
}

// newUpdateDecoderV2 reads the feature flag and the nine column buffers;
// the rest stream is what follows them. Errors surface through err().
func newUpdateDecoderV2(b []byte) updateDecoder {
	d := lib0.NewDecoder(b)
	c := &updateDecoderV2{dsDecoderV2: dsDecoderV2{d: d}, keyBudget: 2*len(b) + 1024}
	d.ReadVarUint() // feature flag; yjs ignores it too
	c.keyClocks = lib0.NewIntDiffOptRleDecoder(d.ReadVarBytes())
	c.clients = lib0.NewUintOptRleDecoder(d.ReadVarBytes())
	c.leftClock = lib0.NewIntDiffOptRleDecoder(d.ReadVarBytes())
	c.rightClock = lib0.NewIntDiffOptRleDecoder(d.ReadVarBytes())
	c.info = lib0.NewRleDecoder(d.ReadVarBytes())
	c.strings = lib0.NewStringDecoder(d.ReadVarBytes())
	c.parentInfo = lib0.NewRleDecoder(d.ReadVarBytes())
	c.typeRefs = lib0.NewUintOptRleDecoder(d.ReadVarBytes())
	c.lens = lib0.NewUintOptRleDecoder(d.ReadVarBytes())
	c.check(c.strings.Err())
	return c
}

// check moves a column's error into the rest decoder, which thereby holds
// the first error of the whole update and stops all further reads.
func (c *updateDecoderV2) check(err error) bool {
	if err != nil {
		c.d.Fail(err)
	}
	return c.d.Err() == nil
}

func (c *updateDecoderV2) readClock(col *lib0.IntDiffOptRleDecoder) uint64 {
	if c.d.Err() != nil {
		return 0
	}
	v := col.Read()
	if !c.check(col.Err()) {
		return 0
	}
	if v < 0 {
		c.d.Fail(fmt.Errorf("%w: negative clock %d", errCodec, v))
		return 0
	}
	return uint64(v)
}

func (c *updateDecoderV2) readUint(col *lib0.UintOptRleDecoder) uint64 {
	if c.d.Err() != nil {
		return 0
	}
	v := col.Read()
	if !c.check(col.Err()) {
		return 0
	}
	return v
}

func (c *updateDecoderV2) readByte(col *lib0.RleDecoder) byte {
	if c.d.Err() != nil {
		return 0
	}
	v := col.Read()
	if !c.check(col.Err()) {
		return 0
	}
	return v
}

func (c *updateDecoderV2) readLeftID() ID  { return c.readID(c.leftClock) }
func (c *updateDecoderV2) readRightID() ID { return c.readID(c.rightClock) }

func (c *updateDecoderV2) readID(clocks *lib0.IntDiffOptRleDecoder) ID {
	client := c.readUint(c.clients)
	clock := c.readClock(clocks)
	if c.d.Err() != nil {
		return ID{}
	}
	return ID{Client: client, Clock: clock}
}

func (c *updateDecoderV2) readClient() uint64   { return c.readUint(c.clients) }
func (c *updateDecoderV2) readInfo() byte       { return c.readByte(c.info) }
func (c *updateDecoderV2) readParentInfo() bool { return c.readByte(c.parentInfo) == 1 }
func (c *updateDecoderV2) readTypeRef() uint8   { return typeRef(c.d, c.readUint(c.typeRefs)) }
func (c *updateDecoderV2) readLen() uint64      { return c.readUint(c.lens) }
func (c *updateDecoderV2) readAny() lib0.Any    { return c.d.ReadAny() }

// readJSON refuses a BigInt anywhere in the value: yjs writes these values
// (embeds, format attributes) with JSON.stringify in v1, which throws on
// one, and a Doc accepts only what it can encode in both formats.
func (c *updateDecoderV2) readJSON() lib0.Any {
	v := c.d.ReadAny()
	if c.d.Err() == nil && hasBigInt(v, 0) {
		c.d.Fail(errBigIntJSON)
	}
	return v
}

var errBigIntJSON = fmt.Errorf("%w: a BigInt in JSON content, which v1 cannot encode", ErrMalformed)

// hasBigInt reports whether v holds a BigInt at any depth. ReadAny bounds
// the depth (lib0.MaxDepth); depth guards the recursion all the same.
func hasBigInt(v lib0.Any, depth int) bool {
	if depth > lib0.MaxDepth {
		return false
	}
	switch x := v.(type) {
	case lib0.BigInt:
		return true
	case []lib0.Any:
		for _, e := range x {
			if hasBigInt(e, depth+1) {
				return true
			}
		}
	case *lib0.Object:
		for _, k := range x.Keys() {
			if e, _ := x.Get(k); hasBigInt(e, depth+1) {
				return true
			}
		}
	}
	return false
}

func (c *updateDecoderV2) readStringBytes() []byte {
	if c.d.Err() != nil {
		return nil
	}
	b := c.strings.ReadBytes()
	if !c.check(c.strings.Err()) {
		return nil
	}
	return b
}

func (c *updateDecoderV2) readString() string { return string(c.readStringBytes()) }

func (c *updateDecoderV2) readBuf() []byte {
	b := c.d.ReadVarBytes()
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// readKey resolves a key clock: a known clock names an earlier key, any
// other takes the next string from the string column and records it.
func (c *updateDecoderV2) readKey() string {
	if c.d.Err() != nil {
		return ""
	}
	kc := c.keyClocks.Read()
	if !c.check(c.keyClocks.Err()) {
		return ""
	}
	if kc < 0 {
		c.d.Fail(fmt.Errorf("%w: negative key clock %d", errCodec, kc))
		return ""
	}
	if kc < int64(len(c.keys)) {
		k := c.keys[kc]
		if c.keyBudget -= len(k); c.keyBudget < 0 {
			c.d.Fail(fmt.Errorf("%w: %w: reused keys exceed what the update can hold", errCodec, errTooLarge))
			return ""
		}
		return k
	}
	k := c.readString()
	if c.d.Err() != nil {
		return ""
	}
	c.keys = append(c.keys, k)
	return k
}
