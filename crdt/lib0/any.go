package lib0

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
)

// Any is a JavaScript value as lib0's writeAny/readAny and JSON see it. It
// holds exactly one of:
//
//	nil         JS null
//	Undefined   JS undefined
//	bool
//	float64     every JS number (there is no separate integer type in JS)
//	BigInt      JS bigint
//	string      valid UTF-8
//	[]byte      Uint8Array
//	[]Any       Array
//	*Object     plain object
//
// Use Normalize to turn other Go values into this form.
type Any = any

type undefinedType struct{}

// Undefined is JS undefined. It is distinct from nil (JS null) because lib0
// encodes the two differently and JSON.stringify drops undefined members.
var Undefined = undefinedType{}

// String makes Undefined print like JavaScript would.
func (undefinedType) String() string { return "undefined" }

// BigInt is a JS bigint. lib0 writes bigints as signed 64-bit values, so
// that is all the range it needs.
type BigInt int64

// MaxDepth bounds the nesting of arrays and objects that ReadAny,
// ParseJSON and Normalize accept. JavaScript's own limit is its stack; this
// one keeps hostile input from exhausting ours and stops cycles in Normalize.
const MaxDepth = 512

// Object is a JS plain object. Its keys come back in JavaScript's property
// order, which lib0 and JSON.stringify follow when they write an object:
// keys that are array indices ("0" … "4294967294") in ascending numeric
// order first, then the other keys in the order they were first set.
// Setting an existing key keeps its place; deleting and re-adding moves it
// to the end. The zero value is an empty object ready to use.
type Object struct {
	vals map[string]Any
	// Array-index keys, ascending. Decoders append unsorted and sort once
	// (see add and finish): inserting in order would make an object whose
	// keys arrive in descending order quadratic to decode.
	idx      []uint32
	unsorted bool
	strs     []string // other keys, insertion order
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{} }

// arrayIndex reports whether k is a canonical array index, which is what
// puts a key in the numeric part of JavaScript's property order.
func arrayIndex(k string) (uint32, bool) {
	if len(k) == 0 || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v >= math.MaxUint32 {
		return 0, false
	}
	return uint32(v), true
}

// Set sets k to v.
func (o *Object) Set(k string, v Any) {
	if o.vals == nil {
		o.vals = make(map[string]Any)
	}
	if _, ok := o.vals[k]; !ok {
		if n, isIdx := arrayIndex(k); isIdx {
			o.finish()
			if i, _ := slices.BinarySearch(o.idx, n); i == len(o.idx) {
				o.idx = append(o.idx, n)
			} else {
				o.idx = slices.Insert(o.idx, i, n)
			}
		} else {
			o.strs = append(o.strs, k)
		}
	}
	o.vals[k] = v
}

// add is Set for decoders, which call finish once the object is complete.
func (o *Object) add(k string, v Any) {
	if o.vals == nil {
		o.vals = make(map[string]Any)
	}
	if _, ok := o.vals[k]; !ok {
		if n, isIdx := arrayIndex(k); isIdx {
			if len(o.idx) > 0 && n < o.idx[len(o.idx)-1] {
				o.unsorted = true
			}
			o.idx = append(o.idx, n)
		} else {
			o.strs = append(o.strs, k)
		}
	}
	o.vals[k] = v
}

func (o *Object) finish() {
	if o.unsorted {
		slices.Sort(o.idx)
		o.unsorted = false
	}
}

// Get returns the value of k and whether k is present.
func (o *Object) Get(k string) (Any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[k]
	return v, ok
}

// Delete removes k if present.
func (o *Object) Delete(k string) {
	if o == nil {
		return
	}
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	if n, isIdx := arrayIndex(k); isIdx {
		if i := slices.Index(o.idx, n); i >= 0 {
			o.idx = slices.Delete(o.idx, i, i+1)
		}
		return
	}
	if i := slices.Index(o.strs, k); i >= 0 {
		o.strs = slices.Delete(o.strs, i, i+1)
	}
}

// Keys returns the keys in JavaScript property order.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	keys := make([]string, 0, len(o.idx)+len(o.strs))
	for _, n := range o.idx {
		keys = append(keys, strconv.FormatUint(uint64(n), 10))
	}
	return append(keys, o.strs...)
}

// Len returns the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.vals)
}

// WriteAny writes v in lib0's self-describing format. Numbers take the
// smallest of lib0's forms that is exact: varInt for integers within
// ±(2^31-1) (including -0, which lib0 writes as varInt -0), float32 when the
// value survives the round trip, float64 otherwise. Values that are not Any
// are passed through Normalize first; ones it rejects are written as
// undefined, which is what lib0 does with values it cannot encode
// (functions, symbols).
func (e *Encoder) WriteAny(v Any) {
	e.writeAny(v, 0)
}

func (e *Encoder) writeAny(v Any, depth int) {
	switch x := v.(type) {
	case nil:
		e.WriteUint8(126)
	case undefinedType:
		e.WriteUint8(127)
	case bool:
		if x {
			e.WriteUint8(120)
		} else {
			e.WriteUint8(121)
		}
	case float64:
		e.writeNumber(x)
	case BigInt:
		e.WriteUint8(122)
		e.WriteBigInt64(int64(x))
	case string:
		e.WriteUint8(119)
		e.WriteVarString(x)
	case []byte:
		e.WriteUint8(116)
		e.WriteVarBytes(x)
	case []Any:
		e.WriteUint8(117)
		e.WriteVarUint(uint64(len(x)))
		for _, el := range x {
			e.writeAny(el, depth+1)
		}
	case *Object:
		e.WriteUint8(118)
		keys := x.Keys()
		e.WriteVarUint(uint64(len(keys)))
		for _, k := range keys {
			e.WriteVarString(k)
			e.writeAny(x.vals[k], depth+1)
		}
	default:
		n, err := normalize(v, depth)
		if err != nil {
			e.WriteUint8(127)
			return
		}
		e.writeAny(n, depth)
	}
}

func (e *Encoder) writeNumber(f float64) {
	if f == math.Trunc(f) && math.Abs(f) <= math.MaxInt32 {
		e.WriteUint8(125)
		e.WriteVarIntSign(uint64(math.Abs(f)), math.Signbit(f))
		return
	}
	if float64(float32(f)) == f || math.IsInf(f, 0) {
		e.WriteUint8(124)
		e.WriteFloat32(float32(f))
		return
	}
	// NaN payloads pass through unchanged, as they do in V8. JavaScript's
	// own NaN is 0x7ff8000000000000, while Go's math.NaN() differs.
	e.WriteUint8(123)
	e.WriteFloat64(f)
}

// ReadAny reads a value written by lib0's writeAny. Numbers of every form
// come back as float64 (varInt -0 as -0), byte arrays are copied so the
// result does not pin the input, and nesting deeper than MaxDepth is an
// error.
//
// An object key "__proto__" is dropped: lib0 builds objects by assignment,
// which sends that key to the prototype setter instead of creating a
// property, so JavaScript readers never see it either.
func (d *Decoder) ReadAny() Any {
	return d.readAny(0)
}

func (d *Decoder) readAny(depth int) Any {
	v := d.readAnyValue(depth)
	if d.err != nil {
		return nil
	}
	return v
}

func (d *Decoder) readAnyValue(depth int) Any {
	if d.err != nil {
		return nil
	}
	if depth > MaxDepth {
		d.failf(ErrInvalid, "any value nested deeper than %d", MaxDepth)
		return nil
	}
	tag := d.ReadUint8()
	if d.err != nil {
		return nil
	}
	switch tag {
	case 127:
		return Undefined
	case 126:
		return nil
	case 125:
		abs, neg := d.ReadVarIntSign()
		f := float64(abs)
		if neg {
			f = -f
		}
		return f
	case 124:
		return float64(d.ReadFloat32())
	case 123:
		return d.ReadFloat64()
	case 122:
		return BigInt(d.ReadBigInt64())
	case 121:
		return false
	case 120:
		return true
	case 119:
		return d.ReadVarString()
	case 118:
		n := d.ReadVarUint()
		// Every entry takes at least two bytes: a key length and a tag.
		if n > uint64(d.Remaining())/2 {
			d.failf(ErrUnexpectedEOF, "object of %d entries, %d bytes left", n, d.Remaining())
			return nil
		}
		o := NewObject()
		for i := uint64(0); i < n && d.err == nil; i++ {
			k := d.ReadVarString()
			v := d.readAny(depth + 1)
			if k != "__proto__" {
				o.add(k, v)
			}
		}
		if d.err != nil {
			return nil
		}
		o.finish()
		return o
	case 117:
		n := d.ReadVarUint()
		if n > uint64(d.Remaining()) {
			d.failf(ErrUnexpectedEOF, "array of %d elements, %d bytes left", n, d.Remaining())
			return nil
		}
		// Grow by appending rather than trusting n: nested arrays could
		// otherwise each reserve room for the whole remaining input.
		a := make([]Any, 0, min(n, 16))
		for i := uint64(0); i < n && d.err == nil; i++ {
			a = append(a, d.readAny(depth+1))
		}
		if d.err != nil {
			return nil
		}
		return a
	case 116:
		b := d.ReadVarBytes()
		if d.err != nil {
			return nil
		}
		return slices.Clone(b)
	}
	d.pos--
	d.failf(ErrInvalid, "unknown any tag %d", tag)
	return nil
}

// Normalize turns ordinary Go values into Any: every integer and float kind
// becomes float64 (rounding beyond 2^53, as JavaScript would), json.Number
// is parsed, maps with string keys become *Object with keys added in
// sorted order, slices and arrays become []Any ([]byte stays a byte array),
// and containers are converted recursively. Values that are already Any are
// returned as they are, without copying. Other types (structs, channels,
// non-string map keys, …) are an error.
func Normalize(v any) (Any, error) {
	return normalize(v, 0)
}

func normalize(v any, depth int) (Any, error) {
	n, _, err := normalizeChanged(v, depth)
	return n, err
}

// normalizeChanged also reports whether the result differs from v, so that
// containers that are already normalized need not be copied.
func normalizeChanged(v any, depth int) (Any, bool, error) {
	if depth > MaxDepth {
		return nil, false, fmt.Errorf("lib0: value nested deeper than %d (cyclic?)", MaxDepth)
	}
	switch x := v.(type) {
	case nil, undefinedType, bool, float64, BigInt, string, []byte:
		return v, false, nil
	case int:
		return float64(x), true, nil
	case int64:
		return float64(x), true, nil
	case int32:
		return float64(x), true, nil
	case uint32:
		return float64(x), true, nil
	case uint64:
		return float64(x), true, nil
	case float32:
		return float64(x), true, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, false, fmt.Errorf("lib0: json.Number %q: %w", string(x), err)
		}
		return f, true, nil
	case []Any:
		var out []Any
		for i, el := range x {
			n, changed, err := normalizeChanged(el, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = slices.Clone(x)
			}
			if out != nil {
				out[i] = n
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case *Object:
		if x == nil {
			return NewObject(), true, nil
		}
		var out *Object
		for _, k := range x.Keys() {
			n, changed, err := normalizeChanged(x.vals[k], depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = &Object{vals: make(map[string]Any, len(x.vals)), idx: slices.Clone(x.idx), strs: slices.Clone(x.strs)}
				for k2, v2 := range x.vals {
					out.vals[k2] = v2
				}
			}
			if out != nil {
				out.vals[k] = n
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	}
	return normalizeReflect(reflect.ValueOf(v), depth)
}

func normalizeReflect(rv reflect.Value, depth int) (Any, bool, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true, nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true, nil
	case reflect.String:
		return rv.String(), true, nil
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			if rv.Kind() == reflect.Interface {
				return nil, true, nil
			}
			break
		}
		if rv.Kind() == reflect.Pointer {
			break
		}
		return normalizeChanged(rv.Elem().Interface(), depth)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() && rv.Type().Elem().Kind() != reflect.Uint8 {
			return []Any{}, true, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return b, true, nil
		}
		out := make([]Any, rv.Len())
		for i := range out {
			n, _, err := normalizeChanged(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, false, err
			}
			out[i] = n
		}
		return out, true, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		keys := make([]string, 0, rv.Len())
		vals := make(map[string]reflect.Value, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			keys = append(keys, k)
			vals[k] = iter.Value()
		}
		sort.Strings(keys)
		o := NewObject()
		for _, k := range keys {
			n, _, err := normalizeChanged(vals[k].Interface(), depth+1)
			if err != nil {
				return nil, false, err
			}
			o.Set(k, n)
		}
		return o, true, nil
	}
	return nil, false, fmt.Errorf("lib0: cannot represent %T as a JavaScript value", rv.Interface())
}
