package main

import (
	"bytes"
	"math/bits"
	"strconv"
	"time"
)

// hist is a log-linear histogram of durations in microseconds: exact below
// 32 µs, then 32 buckets per power of two (at most 3% error).
type hist struct {
	b   [45 * 32]uint32
	n   uint64
	sum int64
	max int64
}

func histIndex(us int64) int {
	if us < 32 {
		if us < 0 {
			return 0
		}
		return int(us)
	}
	e := 63 - bits.LeadingZeros64(uint64(us))
	i := (e-4)*32 + int((us>>(e-5))&31)
	if i >= len(hist{}.b) {
		i = len(hist{}.b) - 1
	}
	return i
}

func histValue(i int) int64 {
	if i < 32 {
		return int64(i)
	}
	e := i/32 + 4
	sub := int64(i % 32)
	lo := (32 + sub) << (e - 5)
	return lo + (int64(1)<<(e-5))/2
}

func (h *hist) add(d time.Duration) {
	us := d.Microseconds()
	h.b[histIndex(us)]++
	h.n++
	h.sum += us
	if us > h.max {
		h.max = us
	}
}

func (h *hist) merge(o *hist) {
	for i, v := range o.b {
		h.b[i] += v
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the q-quantile in milliseconds.
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var acc uint64
	for i, v := range h.b {
		acc += uint64(v)
		if acc >= rank {
			x := histValue(i)
			if x > h.max {
				x = h.max
			}
			return float64(x) / 1000
		}
	}
	return float64(h.max) / 1000
}

// Latency is a summary of a histogram, in milliseconds.
type Latency struct {
	N    uint64  `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

func (h *hist) summary() Latency {
	l := Latency{N: h.n, P50: h.quantile(0.5), P95: h.quantile(0.95), P99: h.quantile(0.99), Max: float64(h.max) / 1000}
	if h.n > 0 {
		l.Mean = float64(h.sum) / float64(h.n) / 1000
	}
	return l
}

func histOfDurations(ds []time.Duration) *hist {
	h := &hist{}
	for _, d := range ds {
		h.add(d)
	}
	return h
}

// Markers. Every edit inserts the text "q[<editor>.<seq>.<micros>]" (base
// 36), micros counted from the run's start on the monotonic clock. Yjs
// carries inserted strings verbatim in its updates, so a receiver finds the
// markers in the raw update bytes without decoding the update.

var markerPrefix = []byte("q[")

func appendMarker(dst []byte, editor, seq int, micros int64) []byte {
	dst = append(dst, markerPrefix...)
	dst = strconv.AppendInt(dst, int64(editor), 36)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(seq), 36)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, micros, 36)
	return append(dst, ']')
}

// scanMarkers calls f for every well-formed marker in b.
func scanMarkers(b []byte, f func(editor, seq int, micros int64)) {
	for {
		i := bytes.Index(b, markerPrefix)
		if i < 0 {
			return
		}
		b = b[i+2:]
		var v [3]int64
		k, j := 0, 0
		ok := false
		for j < len(b) && j < 40 {
			ch := b[j]
			var dv int64
			switch {
			case ch >= '0' && ch <= '9':
				dv = int64(ch - '0')
			case ch >= 'a' && ch <= 'z':
				dv = int64(ch-'a') + 10
			case ch == '.' && k < 2:
				k++
				j++
				continue
			case ch == ']' && k == 2:
				ok = true
			}
			if ok || dv == 0 && ch != '0' {
				break
			}
			v[k] = v[k]*36 + dv
			j++
		}
		if ok {
			f(int(v[0]), int(v[1]), v[2])
			b = b[j+1:]
		}
	}
}

// bitset records which sequence numbers of one editor a receiver has seen.
type bitset []uint64

func (s *bitset) testAndSet(i int) bool {
	w := i / 64
	for len(*s) <= w {
		*s = append(*s, 0)
	}
	m := uint64(1) << (i % 64)
	if (*s)[w]&m != 0 {
		return true
	}
	(*s)[w] |= m
	return false
}
