package crdt

import (
	"github.com/quirehq/quire/crdt/lib0"
)

// Content reference numbers, the low five bits of a struct's info byte.
const (
	refGC      = 0
	refDeleted = 1
	refJSON    = 2
	refBinary  = 3
	refString  = 4
	refEmbed   = 5
	refFormat  = 6
	refType    = 7
	refAny     = 8
	refDoc     = 9
	refSkip    = 10
)

// content is what an item holds. Lengths are in clock units (UTF-16 code
// units for strings, one per element otherwise).
type content interface {
	length() uint64
	countable() bool
	ref() byte
	// write encodes the content from offset on, as Item.write does when a
	// struct is sent starting in its middle. n is the content's length,
	// which its item (or struct ref) holds: contents need not repeat it.
	write(enc updateEncoder, offset, n uint64)
	// splice cuts the content of length n at offset: the receiver keeps
	// [0, offset) and the result holds the rest.
	splice(offset, n uint64) content
	// mergeWith appends right to the receiver if both can be one content.
	mergeWith(right content) bool
}

type contentDeleted struct{ n uint64 }

func (c *contentDeleted) length() uint64  { return c.n }
func (c *contentDeleted) countable() bool { return false }
func (c *contentDeleted) ref() byte       { return refDeleted }
func (c *contentDeleted) write(enc updateEncoder, offset, _ uint64) {
	enc.writeLen(c.n - offset)
}
func (c *contentDeleted) splice(offset, _ uint64) content {
	r := &contentDeleted{c.n - offset}
	c.n = offset
	return r
}
func (c *contentDeleted) mergeWith(right content) bool {
	c.n += right.(*contentDeleted).n
	return true
}

// contentJSON is the legacy array content: each element is JSON text on the
// wire, "undefined" standing for undefined.
type contentJSON struct{ vals []lib0.Any }

func (c *contentJSON) length() uint64  { return uint64(len(c.vals)) }
func (c *contentJSON) countable() bool { return true }
func (c *contentJSON) ref() byte       { return refJSON }
func (c *contentJSON) write(enc updateEncoder, offset, _ uint64) {
	enc.writeLen(uint64(len(c.vals)) - offset)
	for _, v := range c.vals[offset:] {
		if v == lib0.Undefined {
			enc.writeString("undefined")
			continue
		}
		s, err := lib0.StringifyJSON(v)
		if err != nil {
			s = "null"
		}
		enc.writeString(s)
	}
}
func (c *contentJSON) splice(offset, _ uint64) content {
	r := &contentJSON{append([]lib0.Any(nil), c.vals[offset:]...)}
	c.vals = c.vals[:offset:offset]
	return r
}
func (c *contentJSON) mergeWith(right content) bool {
	c.vals = append(c.vals, right.(*contentJSON).vals...)
	return true
}

type contentAny struct{ vals []lib0.Any }

func (c *contentAny) length() uint64  { return uint64(len(c.vals)) }
func (c *contentAny) countable() bool { return true }
func (c *contentAny) ref() byte       { return refAny }
func (c *contentAny) write(enc updateEncoder, offset, _ uint64) {
	enc.writeLen(uint64(len(c.vals)) - offset)
	for _, v := range c.vals[offset:] {
		enc.writeAny(v)
	}
}
func (c *contentAny) splice(offset, _ uint64) content {
	r := &contentAny{append([]lib0.Any(nil), c.vals[offset:]...)}
	c.vals = c.vals[:offset:offset]
	return r
}
func (c *contentAny) mergeWith(right content) bool {
	c.vals = append(c.vals, right.(*contentAny).vals...)
	return true
}

type contentBinary struct{ b []byte }

func (c *contentBinary) length() uint64                            { return 1 }
func (c *contentBinary) countable() bool                           { return true }
func (c *contentBinary) ref() byte                                 { return refBinary }
func (c *contentBinary) write(enc updateEncoder, offset, _ uint64) { enc.writeBuf(c.b) }
func (c *contentBinary) splice(offset, _ uint64) content {
	panic("crdt: binary content cannot be split")
}
func (c *contentBinary) mergeWith(right content) bool { return false }

// contentString holds text as UTF-8. The byte slice's capacity is always
// capped at its length when it is shared, so append in mergeWith never
// writes into memory another item still uses.
//
// Its length in UTF-16 code units, the unit Yjs counts clocks in, is not
// stored: the item holding it has it, and passes it to write and splice,
// which need it to tell ASCII (as many bytes as units) from other text, so
// it must be the current length. Most structs of a document holding text
// are one of these, so 8 bytes here are 8 bytes per struct.
type contentString struct {
	b []byte
}

func newContentString(s string) *contentString {
	if len(s) == 1 && s[0] < 0x80 {
		// Typing inserts one character at a time; share its bytes.
		return &contentString{b: asciiBytes[s[0] : s[0]+1 : s[0]+1]}
	}
	b := []byte(s)
	return &contentString{b: b[:len(b):len(b)]}
}

// asciiBytes backs one-character strings. Slices of it have their capacity
// capped, so appending to one copies instead of writing here.
var asciiBytes = func() []byte {
	b := make([]byte, 128)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func (c *contentString) length() uint64  { return uint64(lib0.UTF16Len(c.b)) }
func (c *contentString) countable() bool { return true }
func (c *contentString) ref() byte       { return refString }
func (c *contentString) write(enc updateEncoder, offset, n uint64) {
	if offset == 0 {
		enc.writeStringBytes(c.b)
		return
	}
	off, split := c.byteOffset(offset, n)
	if !split {
		enc.writeStringBytes(c.b[off:])
		return
	}
	// JavaScript slices a surrogate pair in half here and TextEncoder turns
	// the lone low surrogate into U+FFFD.
	_, size := utf8Size(c.b[off:])
	buf := make([]byte, 0, len(c.b)-off-size+3)
	buf = append(buf, replacementChar...)
	buf = append(buf, c.b[off+size:]...)
	enc.writeStringBytes(buf)
}

// byteOffset maps a UTF-16 offset into the string of n units to a byte
// offset. split reports an offset inside a surrogate pair; then off is the
// start of that character.
func (c *contentString) byteOffset(units, n uint64) (off int, split bool) {
	if uint64(len(c.b)) == n { // ASCII
		return int(units), false
	}
	return lib0.UTF16Offset(c.b, int(units))
}

var replacementChar = []byte("\uFFFD")

func (c *contentString) splice(offset, n uint64) content {
	off, split := c.byteOffset(offset, n)
	if !split {
		right := &contentString{b: c.b[off:len(c.b):len(c.b)]}
		c.b = c.b[:off:off]
		return right
	}
	// Yjs never keeps half a surrogate pair: both halves become U+FFFD, on
	// every replica, so that no document holds invalid UTF-16.
	_, size := utf8Size(c.b[off:])
	rb := make([]byte, 0, 3+len(c.b)-off-size)
	rb = append(rb, replacementChar...)
	rb = append(rb, c.b[off+size:]...)
	lb := make([]byte, 0, off+3)
	lb = append(lb, c.b[:off]...)
	lb = append(lb, replacementChar...)
	right := &contentString{b: rb}
	c.b = lb
	return right
}

func (c *contentString) mergeWith(right content) bool {
	r := right.(*contentString)
	c.b = append(c.b, r.b...)
	return true
}

// utf8Size returns the rune and byte size at the start of b.
func utf8Size(b []byte) (rune, int) {
	if len(b) == 0 {
		return 0, 0
	}
	c := b[0]
	switch {
	case c < 0x80:
		return rune(c), 1
	case c < 0xE0:
		return 0, min(2, len(b))
	case c < 0xF0:
		return 0, min(3, len(b))
	default:
		return 0, min(4, len(b))
	}
}

type contentEmbed struct{ v lib0.Any }

func (c *contentEmbed) length() uint64                            { return 1 }
func (c *contentEmbed) countable() bool                           { return true }
func (c *contentEmbed) ref() byte                                 { return refEmbed }
func (c *contentEmbed) write(enc updateEncoder, offset, _ uint64) { enc.writeJSON(c.v) }
func (c *contentEmbed) splice(offset, _ uint64) content           { panic("crdt: embed cannot be split") }
func (c *contentEmbed) mergeWith(right content) bool              { return false }

// contentFormat marks the start (or, with a null value, the end) of a
// formatting attribute in a text.
type contentFormat struct {
	key string
	v   lib0.Any
}

func (c *contentFormat) length() uint64  { return 1 }
func (c *contentFormat) countable() bool { return false }
func (c *contentFormat) ref() byte       { return refFormat }
func (c *contentFormat) write(enc updateEncoder, offset, _ uint64) {
	enc.writeKey(c.key)
	enc.writeJSON(c.v)
}
func (c *contentFormat) splice(offset, _ uint64) content { panic("crdt: format cannot be split") }
func (c *contentFormat) mergeWith(right content) bool    { return false }

// contentType holds a nested shared type.
type contentType struct{ t *branch }

func (c *contentType) length() uint64  { return 1 }
func (c *contentType) countable() bool { return true }
func (c *contentType) ref() byte       { return refType }
func (c *contentType) write(enc updateEncoder, offset, _ uint64) {
	enc.writeTypeRef(uint8(c.t.kind))
	switch c.t.kind {
	case kindXmlElement, kindXmlHook:
		enc.writeKey(c.t.name)
	}
}
func (c *contentType) splice(offset, _ uint64) content { panic("crdt: type cannot be split") }
func (c *contentType) mergeWith(right content) bool    { return false }

// contentDoc is a subdocument reference. quire keeps it and encodes it
// again; it does not load subdocuments.
type contentDoc struct {
	guid string
	opts lib0.Any
}

func (c *contentDoc) length() uint64  { return 1 }
func (c *contentDoc) countable() bool { return true }
func (c *contentDoc) ref() byte       { return refDoc }
func (c *contentDoc) write(enc updateEncoder, offset, _ uint64) {
	enc.writeString(c.guid)
	enc.writeAny(c.opts)
}
func (c *contentDoc) splice(offset, _ uint64) content { panic("crdt: doc cannot be split") }
func (c *contentDoc) mergeWith(right content) bool    { return false }

// newContentDoc normalizes the options the way yjs does when it builds a
// Doc from them and reads them back: only gc:false, autoLoad:true and a
// non-null meta survive.
func newContentDoc(guid string, opts lib0.Any) *contentDoc {
	out := lib0.NewObject()
	if o, ok := opts.(*lib0.Object); ok {
		if v, ok := o.Get("gc"); ok && v != lib0.Undefined && !truthy(v) {
			out.Set("gc", false)
		}
		if v, ok := o.Get("autoLoad"); ok && truthy(v) {
			out.Set("autoLoad", true)
		}
		if v, ok := o.Get("meta"); ok && v != nil && v != lib0.Undefined {
			out.Set("meta", v)
		}
	}
	return &contentDoc{guid: guid, opts: out}
}

// truthy is JavaScript's Boolean(v).
func truthy(v lib0.Any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && x == x
	case lib0.BigInt:
		return x != 0
	case string:
		return x != ""
	}
	return v != lib0.Undefined
}

// contentSlabs hand out string and deleted contents in chunks while an
// update is decoded: a document's state is mostly these two, one per
// struct, and allocating them one by one dominated decoding.
type contentSlabs struct {
	strs []contentString
	dels []contentDeleted
}

// read is readContent with slab allocation; left is how many structs of
// the current client remain, to size the next chunk.
func (cs *contentSlabs) read(dec updateDecoder, info byte, left uint64) content {
	switch info & 0x1F {
	case refString:
		b := dec.readStringBytes()
		if len(cs.strs) == 0 {
			cs.strs = make([]contentString, min(left, 1024))
		}
		c := &cs.strs[0]
		cs.strs = cs.strs[1:]
		*c = contentString{b: b}
		return c
	case refDeleted:
		if len(cs.dels) == 0 {
			cs.dels = make([]contentDeleted, min(left, 1024))
		}
		c := &cs.dels[0]
		cs.dels = cs.dels[1:]
		c.n = dec.readLen()
		return c
	}
	return readContent(dec, info)
}

// readContent decodes the content of an item whose info byte is info.
func readContent(dec updateDecoder, info byte) content {
	switch info & 0x1F {
	case refDeleted:
		return &contentDeleted{dec.readLen()}
	case refJSON:
		n := dec.readLen()
		vals := make([]lib0.Any, 0, min(n, 1024))
		for i := uint64(0); i < n && dec.err() == nil; i++ {
			s := dec.readString()
			if s == "undefined" {
				vals = append(vals, lib0.Undefined)
				continue
			}
			v, err := lib0.ParseJSON(s)
			if err != nil {
				dec.rest().Fail(err)
				return nil
			}
			vals = append(vals, v)
		}
		return &contentJSON{vals}
	case refBinary:
		return &contentBinary{dec.readBuf()}
	case refString:
		b := dec.readStringBytes()
		return &contentString{b: b}
	case refEmbed:
		return &contentEmbed{dec.readJSON()}
	case refFormat:
		k := dec.readKey()
		return &contentFormat{key: k, v: dec.readJSON()}
	case refType:
		ref := dec.readTypeRef()
		var name string
		switch typeKind(ref) {
		case kindXmlElement, kindXmlHook:
			name = dec.readKey()
		case kindArray, kindMap, kindText, kindXmlFragment, kindXmlText:
		default:
			dec.rest().Fail(errInvalidTypeRef)
			return nil
		}
		return &contentType{newBranch(typeKind(ref), name)}
	case refAny:
		n := dec.readLen()
		vals := make([]lib0.Any, 0, min(n, 1024))
		for i := uint64(0); i < n && dec.err() == nil; i++ {
			vals = append(vals, dec.readAny())
		}
		return &contentAny{vals}
	case refDoc:
		guid := dec.readString()
		return newContentDoc(guid, dec.readAny())
	}
	dec.rest().Fail(errInvalidContentRef)
	return nil
}
