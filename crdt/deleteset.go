package crdt

import (
	"fmt"
	"slices"
	"sort"
)

var errDeleteRange = fmt.Errorf("%w: delete-set range ends above 2^53-1", ErrMalformed)

// deleteRange is a run of deleted clocks of one client.
type deleteRange struct {
	clock, len uint64
}

// deleteSet maps clients to deleted clock ranges. After sortAndMerge the
// ranges of each client are sorted and neither overlap nor touch.
type deleteSet map[uint64][]deleteRange

func (ds deleteSet) add(client, clock, n uint64) {
	ds[client] = append(ds[client], deleteRange{clock, n})
}

func (ds deleteSet) sortAndMerge() {
	for client := range ds {
		ds.sortAndMergeClient(client)
	}
}

// sortAndMergeClient sorts and merges the ranges of one client.
func (ds deleteSet) sortAndMergeClient(client uint64) {
	{
		dels := ds[client]
		if len(dels) < 2 {
			return
		}
		slices.SortFunc(dels, func(a, b deleteRange) int {
			switch {
			case a.clock < b.clock:
				return -1
			case a.clock > b.clock:
				return 1
			}
			return 0
		})
		j := 1
		for i := 1; i < len(dels); i++ {
			left, right := dels[j-1], dels[i]
			if left.clock+left.len >= right.clock {
				dels[j-1] = deleteRange{left.clock, max(left.len, right.clock+right.len-left.clock)}
			} else {
				dels[j] = right
				j++
			}
		}
		ds[client] = dels[:min(j, len(dels))]
	}
}

func (ds deleteSet) contains(id ID) bool {
	dels := ds[id.Client]
	i := sort.Search(len(dels), func(i int) bool { return dels[i].clock+dels[i].len > id.Clock })
	return i < len(dels) && dels[i].clock <= id.Clock
}

// sortedClientsDesc returns the keys of m, highest first: the order every
// yjs writer uses.
func sortedClientsDesc[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b uint64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	return keys
}

func writeDeleteSet(enc dsEncoder, ds deleteSet) {
	rest := enc.rest()
	rest.WriteVarUint(uint64(len(ds)))
	for _, client := range sortedClientsDesc(ds) {
		dels := ds[client]
		enc.resetDsCurVal()
		rest.WriteVarUint(client)
		rest.WriteVarUint(uint64(len(dels)))
		for _, d := range dels {
			enc.writeDsClock(d.clock)
			enc.writeDsLen(d.len)
		}
	}
}

// deleteSetFromStore builds the delete set of every deleted struct, GC
// included, merging neighbours.
func deleteSetFromStore(s *structStore) deleteSet {
	ds := deleteSet{}
	for client, l := range s.clients {
		structs := l.items
		var dels []deleteRange
		for i := 0; i < len(structs); i++ {
			it := structs[i]
			if !it.deleted() {
				continue
			}
			clock, n := it.id.Clock, it.len()
			for i+1 < len(structs) && structs[i+1].deleted() {
				i++
				n += structs[i].len()
			}
			dels = append(dels, deleteRange{clock, n})
		}
		if len(dels) > 0 {
			ds[client] = dels
		}
	}
	return ds
}

// readDeleteSet decodes a delete set without applying it.
func readDeleteSet(dec dsDecoder, limit int) (deleteSet, error) {
	ds, _, err := readDeleteSetOrdered(dec, limit)
	return ds, err
}

// readDeleteSetOrdered also returns the clients in the order they are
// encoded, the order yjs applies them in.
func readDeleteSetOrdered(dec dsDecoder, limit int) (deleteSet, []uint64, error) {
	return readDeleteSetInto(dec, limit, nil)
}

// readDeleteSetInto decodes into the scratch buffers of sc when not nil.
func readDeleteSetInto(dec dsDecoder, limit int, sc *decodeScratch) (deleteSet, []uint64, error) {
	var ds deleteSet
	var order []uint64
	if sc != nil {
		if sc.ds == nil {
			sc.ds = deleteSet{}
		}
		clear(sc.ds)
		ds = sc.ds
		order = sc.dsOrder[:0]
		defer func() { sc.dsOrder = order[:0] }()
	} else {
		ds = deleteSet{}
	}
	rest := dec.rest()
	n := rest.ReadVarUint()
	for i := uint64(0); i < n && dec.err() == nil; i++ {
		dec.resetDsCurVal()
		client := rest.ReadVarUint()
		count := rest.ReadVarUint()
		if count > uint64(limit) {
			return nil, nil, errTooLarge
		}
		if count > 0 {
			if _, ok := ds[client]; !ok {
				order = append(order, client)
			}
		}
		for j := uint64(0); j < count && dec.err() == nil; j++ {
			clock := dec.readDsClock()
			n := dec.readDsLen()
			// v2 delta-codes a client's ranges, and lib0 reads back no
			// clock above 2^53-1: neither may a range end there. v1 reads
			// clock and length apart and would let it through.
			if n > maxClock-clock {
				return nil, nil, errDeleteRange
			}
			ds[client] = append(ds[client], deleteRange{clock, n})
		}
	}
	return ds, order, dec.err()
}
