package crdt

import (
	"bytes"
	"errors"
	"testing"

	"github.com/quirehq/quire/crdt/lib0"
)

// v1Struct writes a v1 update of one string struct "x" of client at clock:
// attached by origin, right origin or parent ID when given, else to root
// "t"; followed by the delete set ds.
func v1Struct(client, clock uint64, origin, right, parent *ID, ds []deleteRangeOf) []byte {
	var e lib0.Encoder
	e.WriteVarUint(1)
	e.WriteVarUint(1)
	e.WriteVarUint(client)
	e.WriteVarUint(clock)
	info := byte(refString)
	if origin != nil {
		info |= 0x80
	}
	if right != nil {
		info |= 0x40
	}
	e.WriteUint8(info)
	if origin != nil {
		e.WriteVarUint(origin.Client)
		e.WriteVarUint(origin.Clock)
	}
	if right != nil {
		e.WriteVarUint(right.Client)
		e.WriteVarUint(right.Clock)
	}
	if origin == nil && right == nil {
		if parent != nil {
			e.WriteVarUint(0)
			e.WriteVarUint(parent.Client)
			e.WriteVarUint(parent.Clock)
		} else {
			e.WriteVarUint(1)
			e.WriteVarString("t")
		}
	}
	e.WriteVarString("x")
	writeDS(&e, ds)
	return e.Bytes()
}

// v1GC writes a v1 update of one GC struct and no deletions.
func v1GC(client, clock, n uint64) []byte {
	var e lib0.Encoder
	e.WriteVarUint(1)
	e.WriteVarUint(1)
	e.WriteVarUint(client)
	e.WriteVarUint(clock)
	e.WriteUint8(refGC)
	e.WriteVarUint(n)
	e.WriteVarUint(0)
	return e.Bytes()
}

// v1Deletes writes a v1 update of deletions only.
func v1Deletes(ds []deleteRangeOf) []byte {
	var e lib0.Encoder
	e.WriteVarUint(0)
	writeDS(&e, ds)
	return e.Bytes()
}

type deleteRangeOf struct{ client, clock, n uint64 }

func writeDS(e *lib0.Encoder, ds []deleteRangeOf) {
	e.WriteVarUint(uint64(len(ds)))
	for _, d := range ds {
		e.WriteVarUint(d.client)
		e.WriteVarUint(1)
		e.WriteVarUint(d.clock)
		e.WriteVarUint(d.n)
	}
}

// TestApplyUpdateClockLimits: a Doc accepts exactly what it can encode again
// in v1 and v2. Accepted updates re-encode and load into a fresh Doc in both
// formats; rejected ones wrap ErrMalformed and change nothing.
func TestApplyUpdateClockLimits(t *testing.T) {
	const (
		limit   = clockLimit // 2^52
		maxSafe = lib0.MaxSafeInteger
	)
	id := func(client, clock uint64) *ID { return &ID{client, clock} }
	tests := []struct {
		name   string
		update []byte
		ok     bool
	}{
		{"struct ends at 2^52", v1Struct(5, limit-1, nil, nil, nil, nil), true},
		{"struct ends past 2^52", v1Struct(5, limit, nil, nil, nil, nil), false},
		{"struct at 2^53-1", v1Struct(5, maxSafe, nil, nil, nil, nil), false},
		{"GC up to 2^52", v1GC(5, 0, limit), true},
		{"GC past 2^52", v1GC(5, 1, limit), false},
		{"origin below 2^52", v1Struct(5, 0, id(7, limit-1), nil, nil, nil), true},
		{"origin at 2^52", v1Struct(5, 0, id(7, limit), nil, nil, nil), false},
		{"right origin below 2^52", v1Struct(5, 0, nil, id(7, limit-1), nil, nil), true},
		{"right origin at 2^52", v1Struct(5, 0, nil, id(7, limit), nil, nil), false},
		{"parent below 2^52", v1Struct(5, 0, nil, nil, id(7, limit-1), nil), true},
		{"parent at 2^52", v1Struct(5, 0, nil, nil, id(7, limit), nil), false},
		// The seed testdata/fuzz/FuzzApplyUpdate/8976c9526cbf58e6 in short:
		// a parent near 2^53 that v2's doubled deltas cannot hold.
		{"own parent near 2^53", v1Struct(48, 48, nil, nil, id(48, 0x1ab8b8b8b8b8b8), nil), false},
		{"client 2^53-1", v1Struct(maxSafe, 0, nil, nil, nil, nil), true},
		{"client 2^53-1 pending", v1Struct(maxSafe, 3, id(maxSafe-1, limit-1), nil, nil, nil), true},
		{"deletion ends at 2^53-1", v1Deletes([]deleteRangeOf{{9, maxSafe - 10, 10}}), true},
		{"deletion ends past 2^53-1", v1Deletes([]deleteRangeOf{{9, maxSafe - 10, 11}}), false},
		{"deletion of all clocks", v1Deletes([]deleteRangeOf{{9, 0, maxSafe}}), true},
		{"deletion with a bad struct", v1Struct(5, 0, nil, nil, nil, []deleteRangeOf{{9, maxSafe, maxSafe}}), false},
	}
	for _, tc := range tests {
		for _, v2 := range []bool{false, true} {
			name := tc.name + map[bool]string{false: "/v1", true: "/v2"}[v2]
			t.Run(name, func(t *testing.T) {
				update := tc.update
				if v2 {
					// The v2 form, where v2 can express it at all.
					u, err := ConvertUpdateV1ToV2(update)
					if err != nil {
						if tc.ok {
							t.Fatalf("convert: %v", err)
						}
						return
					}
					update = u
				}
				d := NewDoc(Options{ClientID: 1})
				d.Text("t").Insert(0, "ab", nil)
				before := mustState(t, d)
				var err error
				if v2 {
					err = d.ApplyUpdateV2(update)
				} else {
					err = d.ApplyUpdate(update)
				}
				if !tc.ok {
					if !errors.Is(err, ErrMalformed) {
						t.Fatalf("ApplyUpdate: %v, want ErrMalformed", err)
					}
					if after := mustState(t, d); !bytes.Equal(after, before) {
						t.Fatalf("rejected update changed the doc:\n% x\n% x", after, before)
					}
					return
				}
				if err != nil {
					t.Fatalf("ApplyUpdate: %v", err)
				}
				s1, err := d.EncodeStateAsUpdate(nil)
				if err != nil {
					t.Fatalf("v1 encoding: %v", err)
				}
				s2, err := d.EncodeStateAsUpdateV2(nil)
				if err != nil {
					t.Fatalf("v2 encoding: %v", err)
				}
				c1, c2 := NewDoc(Options{ClientID: 2}), NewDoc(Options{ClientID: 2})
				if err := c1.ApplyUpdate(s1); err != nil {
					t.Fatalf("v1 state rejected: %v", err)
				}
				if err := c2.ApplyUpdateV2(s2); err != nil {
					t.Fatalf("v2 state rejected: %v", err)
				}
				for _, c := range []*Doc{c1, c2} {
					if got, want := mustState(t, c), s1; !bytes.Equal(got, want) {
						t.Fatalf("copy encodes\n% x\nwant\n% x", got, want)
					}
				}
			})
		}
	}
}

// TestUpdateFunctionsClockLimits: the Doc-free update functions take any
// clock lib0 can carry, without panicking, and refuse to write v2 that
// lib0 could not read back.
func TestUpdateFunctionsClockLimits(t *testing.T) {
	big := ID{7, lib0.MaxSafeInteger - 1}
	updates := []struct {
		update []byte
		v2     bool // expressible in v2
	}{
		{v1Struct(5, 0, &big, nil, nil, nil), false},
		{v1Struct(5, 0, nil, &big, nil, nil), false},
		{v1Struct(5, 0, nil, nil, &big, nil), false},
		{v1Struct(48, 48, nil, nil, &ID{48, 0x1ab8b8b8b8b8b8}, nil), false},
		{v1Struct(5, 0, &ID{7, clockLimit - 1}, nil, nil, nil), true},
		// A struct's own clock is a varUint in both formats.
		{v1Struct(5, clockLimit, nil, nil, nil, nil), true},
	}
	for i, tc := range updates {
		u := tc.update
		v2, err := ConvertUpdateV1ToV2(u)
		if tc.v2 {
			if err != nil {
				t.Errorf("%d: ConvertUpdateV1ToV2: %v", i, err)
			} else if _, err := ConvertUpdateV2ToV1(v2); err != nil {
				t.Errorf("%d: v2 written, not read back: %v", i, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%d: ConvertUpdateV1ToV2: %v, want ErrMalformed", i, err)
		}
		v1ok := func(what string, b []byte, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%d: %s: %v", i, what, err)
				return
			}
			if _, err := ConvertUpdateV1ToV2(b); err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("%d: %s: output: %v", i, what, err)
			}
		}
		b, err := MergeUpdates([][]byte{u, v1Struct(6, 0, nil, nil, nil, nil)})
		v1ok("MergeUpdates", b, err)
		b, err = DiffUpdate(u, []byte{0})
		v1ok("DiffUpdate", b, err)
		b, err = DiffUpdate(u, EncodeStateVector(map[uint64]uint64{5: 1}))
		v1ok("DiffUpdate at a state vector", b, err)
		if _, err := EncodeStateVectorFromUpdate(u); err != nil {
			t.Errorf("%d: EncodeStateVectorFromUpdate: %v", i, err)
		}
	}
}
