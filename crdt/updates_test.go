package crdt

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

func TestUpdatesNodeVectors(t *testing.T) {
	path := os.Getenv("UPDATES_VECTORS")
	if path == "" {
		t.Skip("UPDATES_VECTORS not set")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Name, Op string
		Inputs   []string
		Sv       string
		Out      string
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	fails := 0
	for _, v := range vs {
		var ins [][]byte
		for _, h := range v.Inputs {
			b, _ := hex.DecodeString(h)
			ins = append(ins, b)
		}
		sv, _ := hex.DecodeString(v.Sv)
		var got string
		var out []byte
		var err error
		switch v.Op {
		case "merge":
			out, err = MergeUpdates(ins)
		case "mergeV2":
			out, err = MergeUpdatesV2(ins)
		case "diff":
			out, err = DiffUpdate(ins[0], sv)
		case "diffV2":
			out, err = DiffUpdateV2(ins[0], sv)
		case "v1tov2":
			out, err = ConvertUpdateV1ToV2(ins[0])
		case "v2tov1":
			out, err = ConvertUpdateV2ToV1(ins[0])
		case "sv":
			out, err = EncodeStateVectorFromUpdate(ins[0])
		case "svV2":
			out, err = EncodeStateVectorFromUpdateV2(ins[0])
		case "meta", "metaV2":
			var from, to map[uint64]uint64
			if v.Op == "meta" {
				from, to, err = ParseUpdateMeta(ins[0])
			} else {
				from, to, err = ParseUpdateMetaV2(ins[0])
			}
			got = fmtMeta(from) + "|" + fmtMeta(to)
		}
		if got == "" {
			got = hex.EncodeToString(out)
		}
		if err != nil {
			got = "ERROR"
		}
		if got != v.Out {
			fails++
			if fails < 15 {
				t.Errorf("%s %s: got\n%s (%v)\nwant\n%s\ninputs %v sv %s", v.Name, v.Op, got, err, v.Out, v.Inputs, v.Sv)
			}
		}
	}
	t.Logf("%d vectors, %d failures", len(vs), fails)
}

func fmtMeta(m map[uint64]uint64) string {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

// v8Mix is a comparator that answers at random but the same way for the
// same pair: as inconsistent as it gets.
func v8Mix(x, y, s int) int {
	h := uint32(x)*73856093 ^ uint32(y)*19349663 ^ uint32(s)*83492791
	h = (h ^ h>>13) * 0x5bd1e995
	h ^= h >> 15
	return int(h%3) - 1
}

// TestV8Sort checks the sort against the permutations Node 20's
// Array.prototype.sort produced for the same comparators (random, and
// key-ordered with random answers for equal keys), hashed with FNV-1a.
func TestV8Sort(t *testing.T) {
	for _, c := range v8SortVectors {
		n, mode, s := c.n, c.mode, c.seed
		cmp := func(x, y int) int {
			if mode == 0 {
				return v8Mix(x, y, s)
			}
			m := 10
			if mode == 2 {
				m = 97
			}
			kx, ky := x*7919%m, y*7919%m
			if kx != ky {
				return kx - ky
			}
			return v8Mix(x, y, s)
		}
		a := make([]int, n)
		for i := range a {
			a[i] = i
		}
		for i := n - 1; i > 0; i-- {
			j := int(uint32(i) * 2654435761 % uint32(i+1))
			a[i], a[j] = a[j], a[i]
		}
		sorter := v8Sorter[int]{cmp: cmp}
		sorter.sort(a)
		h := uint32(0x811c9dc5)
		for _, v := range a {
			h ^= uint32(v) & 0xff
			h *= 16777619
			h ^= uint32(v) >> 8 & 0xff
			h *= 16777619
		}
		if h != c.hash {
			t.Errorf("n=%d mode=%d seed=%d: hash %#x, V8 %#x", n, mode, s, h, c.hash)
		}
	}
}

var v8SortVectors = []struct {
	n, mode, seed int
	hash          uint32
}{
	{2, 0, 1, 0x25937aac},
	{2, 0, 2, 0x25937aac},
	{2, 0, 3, 0x25937aac},
	{2, 0, 4, 0x25937aac},
	{2, 1, 1, 0x25937aac},
	{2, 1, 2, 0x25937aac},
	{2, 1, 3, 0x25937aac},
	{2, 1, 4, 0x25937aac},
	{2, 2, 1, 0x25937aac},
	{2, 2, 2, 0x25937aac},
	{2, 2, 3, 0x25937aac},
	{2, 2, 4, 0x25937aac},
	{3, 0, 1, 0x237a0dc6},
	{3, 0, 2, 0xf9cd8b56},
	{3, 0, 3, 0xf9cd8b56},
	{3, 0, 4, 0x5220fd26},
	{3, 1, 1, 0xf9cd8b56},
	{3, 1, 2, 0xf9cd8b56},
	{3, 1, 3, 0xf9cd8b56},
	{3, 1, 4, 0xf9cd8b56},
	{3, 2, 1, 0xf9cd8b56},
	{3, 2, 2, 0xf9cd8b56},
	{3, 2, 3, 0xf9cd8b56},
	{3, 2, 4, 0xf9cd8b56},
	{4, 0, 1, 0xe6ffc325},
	{4, 0, 2, 0xca0b1e8d},
	{4, 0, 3, 0xca0b1e8d},
	{4, 0, 4, 0xe075762d},
	{4, 1, 1, 0x1de165a5},
	{4, 1, 2, 0x1de165a5},
	{4, 1, 3, 0x1de165a5},
	{4, 1, 4, 0x1de165a5},
	{4, 2, 1, 0x1e5ea7dd},
	{4, 2, 2, 0x1e5ea7dd},
	{4, 2, 3, 0x1e5ea7dd},
	{4, 2, 4, 0x1e5ea7dd},
	{5, 0, 1, 0x4b363c21},
	{5, 0, 2, 0xcb436a21},
	{5, 0, 3, 0x602c9e89},
	{5, 0, 4, 0x72eff851},
	{5, 1, 1, 0x4cc61c29},
	{5, 1, 2, 0x4cc61c29},
	{5, 1, 3, 0x4cc61c29},
	{5, 1, 4, 0x4cc61c29},
	{5, 2, 1, 0x9387c951},
	{5, 2, 2, 0x9387c951},
	{5, 2, 3, 0x9387c951},
	{5, 2, 4, 0x9387c951},
	{7, 0, 1, 0xf8cfa12},
	{7, 0, 2, 0x44f1f282},
	{7, 0, 3, 0xf1c3bea2},
	{7, 0, 4, 0x63f5f8aa},
	{7, 1, 1, 0xa031a8b2},
	{7, 1, 2, 0xa031a8b2},
	{7, 1, 3, 0xa031a8b2},
	{7, 1, 4, 0xa031a8b2},
	{7, 2, 1, 0x7b5e7eda},
	{7, 2, 2, 0x7b5e7eda},
	{7, 2, 3, 0x7b5e7eda},
	{7, 2, 4, 0x7b5e7eda},
	{9, 0, 1, 0x15c9170d},
	{9, 0, 2, 0x9b636dd5},
	{9, 0, 3, 0xa31f9965},
	{9, 0, 4, 0x9ae9ff8d},
	{9, 1, 1, 0xaae28e45},
	{9, 1, 2, 0xaae28e45},
	{9, 1, 3, 0xaae28e45},
	{9, 1, 4, 0xaae28e45},
	{9, 2, 1, 0x5ed06405},
	{9, 2, 2, 0x5ed06405},
	{9, 2, 3, 0x5ed06405},
	{9, 2, 4, 0x5ed06405},
	{10, 0, 1, 0x8a7a58a4},
	{10, 0, 2, 0xeaed6c44},
	{10, 0, 3, 0x80698d9c},
	{10, 0, 4, 0x494031d4},
	{10, 1, 1, 0x53fd8fec},
	{10, 1, 2, 0x53fd8fec},
	{10, 1, 3, 0x53fd8fec},
	{10, 1, 4, 0x53fd8fec},
	{10, 2, 1, 0xa7fe1aa4},
	{10, 2, 2, 0xa7fe1aa4},
	{10, 2, 3, 0xa7fe1aa4},
	{10, 2, 4, 0xa7fe1aa4},
	{11, 0, 1, 0x3b17990e},
	{11, 0, 2, 0xad63884e},
	{11, 0, 3, 0x88251b4e},
	{11, 0, 4, 0xa475d71e},
	{11, 1, 1, 0xd0f0594e},
	{11, 1, 2, 0xd0f0594e},
	{11, 1, 3, 0xd0f0594e},
	{11, 1, 4, 0xd0f0594e},
	{11, 2, 1, 0x78f2bcee},
	{11, 2, 2, 0x78f2bcee},
	{11, 2, 3, 0x78f2bcee},
	{11, 2, 4, 0x78f2bcee},
	{16, 0, 1, 0xd909d89d},
	{16, 0, 2, 0xd03dfbf5},
	{16, 0, 3, 0xd08f3f05},
	{16, 0, 4, 0xdcfd227d},
	{16, 1, 1, 0x4ee2437d},
	{16, 1, 2, 0x6a66649d},
	{16, 1, 3, 0x33cf7ad},
	{16, 1, 4, 0xfd88fdfd},
	{16, 2, 1, 0xfa96a5bd},
	{16, 2, 2, 0xfa96a5bd},
	{16, 2, 3, 0xfa96a5bd},
	{16, 2, 4, 0xfa96a5bd},
	{31, 0, 1, 0x84a670ca},
	{31, 0, 2, 0x66faffc2},
	{31, 0, 3, 0xb876ded2},
	{31, 0, 4, 0xd8b041aa},
	{31, 1, 1, 0x955ed942},
	{31, 1, 2, 0x627319a2},
	{31, 1, 3, 0xd8fa9222},
	{31, 1, 4, 0x679932b2},
	{31, 2, 1, 0xbcab97e2},
	{31, 2, 2, 0xbcab97e2},
	{31, 2, 3, 0xbcab97e2},
	{31, 2, 4, 0xbcab97e2},
	{32, 0, 1, 0x3f75a75},
	{32, 0, 2, 0x154d543d},
	{32, 0, 3, 0x8f35a645},
	{32, 0, 4, 0x4105353d},
	{32, 1, 1, 0x56daddd5},
	{32, 1, 2, 0xc2af1b85},
	{32, 1, 3, 0x20e37fc5},
	{32, 1, 4, 0x93563af5},
	{32, 2, 1, 0xdce9848d},
	{32, 2, 2, 0xdce9848d},
	{32, 2, 3, 0xdce9848d},
	{32, 2, 4, 0xdce9848d},
	{33, 0, 1, 0x7c5bdbf5},
	{33, 0, 2, 0xff043d},
	{33, 0, 3, 0x368926d},
	{33, 0, 4, 0xde334b25},
	{33, 1, 1, 0xa5986cfd},
	{33, 1, 2, 0x1dfaab1d},
	{33, 1, 3, 0x8364359d},
	{33, 1, 4, 0x300b81dd},
	{33, 2, 1, 0xb8fac575},
	{33, 2, 2, 0xb8fac575},
	{33, 2, 3, 0xb8fac575},
	{33, 2, 4, 0xb8fac575},
	{63, 0, 1, 0x13a424a},
	{63, 0, 2, 0xf8ee2d82},
	{63, 0, 3, 0x44afcd4a},
	{63, 0, 4, 0xe84872da},
	{63, 1, 1, 0xeb273822},
	{63, 1, 2, 0x981bc6c2},
	{63, 1, 3, 0xd181bc22},
	{63, 1, 4, 0x38270232},
	{63, 2, 1, 0xfb746fda},
	{63, 2, 2, 0xfb746fda},
	{63, 2, 3, 0xfb746fda},
	{63, 2, 4, 0xfb746fda},
	{64, 0, 1, 0xcd3c85dd},
	{64, 0, 2, 0x73434bad},
	{64, 0, 3, 0xda2334fd},
	{64, 0, 4, 0x88712bdd},
	{64, 1, 1, 0x2c14ef1d},
	{64, 1, 2, 0x11612f7d},
	{64, 1, 3, 0x6dfae18d},
	{64, 1, 4, 0x9ea0082d},
	{64, 2, 1, 0x4ba841a5},
	{64, 2, 2, 0x4ba841a5},
	{64, 2, 3, 0x4ba841a5},
	{64, 2, 4, 0x4ba841a5},
	{65, 0, 1, 0xf2b261b5},
	{65, 0, 2, 0xf5e08565},
	{65, 0, 3, 0xf12303a5},
	{65, 0, 4, 0xd83d7ac5},
	{65, 1, 1, 0x4357bfe5},
	{65, 1, 2, 0xb016c75},
	{65, 1, 3, 0x8a8d4205},
	{65, 1, 4, 0xed3d1255},
	{65, 2, 1, 0x869df4dd},
	{65, 2, 2, 0x869df4dd},
	{65, 2, 3, 0x869df4dd},
	{65, 2, 4, 0x869df4dd},
	{100, 0, 1, 0x94a41ac5},
	{100, 0, 2, 0xee437d7d},
	{100, 0, 3, 0xe437a405},
	{100, 0, 4, 0xe5b8945d},
	{100, 1, 1, 0x64aff8fd},
	{100, 1, 2, 0xe05ae00d},
	{100, 1, 3, 0xebf5be8d},
	{100, 1, 4, 0x9499152d},
	{100, 2, 1, 0x77d7a24d},
	{100, 2, 2, 0x5e519b6d},
	{100, 2, 3, 0x5e519b6d},
	{100, 2, 4, 0xcd50965},
	{127, 0, 1, 0xf7ab4262},
	{127, 0, 2, 0x269f313a},
	{127, 0, 3, 0x494968d2},
	{127, 0, 4, 0x94183c2},
	{127, 1, 1, 0x606876ba},
	{127, 1, 2, 0x9312ec0a},
	{127, 1, 3, 0xa3a4409a},
	{127, 1, 4, 0xdddd597a},
	{127, 2, 1, 0xf03e7d22},
	{127, 2, 2, 0x61b4de6a},
	{127, 2, 3, 0x7175612},
	{127, 2, 4, 0xf9aac252},
	{128, 0, 1, 0x225a247d},
	{128, 0, 2, 0x55976755},
	{128, 0, 3, 0xa88d19bd},
	{128, 0, 4, 0xab25f4d},
	{128, 1, 1, 0x93960c55},
	{128, 1, 2, 0x90484c75},
	{128, 1, 3, 0xf37c59c5},
	{128, 1, 4, 0xeec4e9f5},
	{128, 2, 1, 0x174df955},
	{128, 2, 2, 0xdf4a4c6d},
	{128, 2, 3, 0x42b40dfd},
	{128, 2, 4, 0xb9443a65},
	{129, 0, 1, 0xcd95e09d},
	{129, 0, 2, 0x195785dd},
	{129, 0, 3, 0xa3144c0d},
	{129, 0, 4, 0x778d7ef5},
	{129, 1, 1, 0x826a755d},
	{129, 1, 2, 0x6f93dcfd},
	{129, 1, 3, 0x74b36a0d},
	{129, 1, 4, 0x9738170d},
	{129, 2, 1, 0x1e0a7de5},
	{129, 2, 2, 0x89b00ffd},
	{129, 2, 3, 0x8b088e0d},
	{129, 2, 4, 0x7e1138dd},
	{200, 0, 1, 0x8f73fffd},
	{200, 0, 2, 0xc107f54d},
	{200, 0, 3, 0xaf16f075},
	{200, 0, 4, 0xf9fb1e4d},
	{200, 1, 1, 0xb9864e85},
	{200, 1, 2, 0x63ef18b5},
	{200, 1, 3, 0xd09e4895},
	{200, 1, 4, 0x3e78e805},
	{200, 2, 1, 0x37b8929d},
	{200, 2, 2, 0x54e5b99d},
	{200, 2, 3, 0x7ed9b7e5},
	{200, 2, 4, 0xff5d5375},
	{500, 0, 1, 0xb6d1bb21},
	{500, 0, 2, 0x47933785},
	{500, 0, 3, 0x6a9e7371},
	{500, 0, 4, 0x6d81b561},
	{500, 1, 1, 0xfd70fa41},
	{500, 1, 2, 0x3a3a7539},
	{500, 1, 3, 0x9dcf8375},
	{500, 1, 4, 0x932e312d},
	{500, 2, 1, 0x381fa905},
	{500, 2, 2, 0x585f477d},
	{500, 2, 3, 0x730715e5},
	{500, 2, 4, 0x3cbbefa1},
	{1000, 0, 1, 0x334c8d7d},
	{1000, 0, 2, 0x4a9e9139},
	{1000, 0, 3, 0xd42a1c1},
	{1000, 0, 4, 0xe6264629},
	{1000, 1, 1, 0x31e2a78d},
	{1000, 1, 2, 0x635b6a91},
	{1000, 1, 3, 0x77603371},
	{1000, 1, 4, 0x65f6071},
	{1000, 2, 1, 0x108d03d},
	{1000, 2, 2, 0x11b98cf9},
	{1000, 2, 3, 0x992e77c1},
	{1000, 2, 4, 0xca79de4d},
	{3000, 0, 1, 0x29bcfe41},
	{3000, 0, 2, 0xff9df749},
	{3000, 0, 3, 0x3e431d29},
	{3000, 0, 4, 0x9e57945d},
	{3000, 1, 1, 0xd554d0b9},
	{3000, 1, 2, 0x126c2bd},
	{3000, 1, 3, 0x79331f1},
	{3000, 1, 4, 0x762b1ed1},
	{3000, 2, 1, 0xf0687e9d},
	{3000, 2, 2, 0xc9c32745},
	{3000, 2, 3, 0x7457a90d},
	{3000, 2, 4, 0x634bd649},
}
