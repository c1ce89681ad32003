package crdt

// Transactions touch few clients and few types. These small sets keep them
// in slices, and move to maps only when they grow, because allocating and
// iterating maps dominated the cost of single-keystroke transactions.

const smallMax = 16

type clientClock struct{ client, clock uint64 }

// clockMap maps clients to clocks.
type clockMap struct {
	s []clientClock
	m map[uint64]uint64
}

func (c *clockMap) get(client uint64) (uint64, bool) {
	if c.m != nil {
		v, ok := c.m[client]
		return v, ok
	}
	for _, e := range c.s {
		if e.client == client {
			return e.clock, true
		}
	}
	return 0, false
}

func (c *clockMap) set(client, clock uint64) {
	if c.m != nil {
		c.m[client] = clock
		return
	}
	for i, e := range c.s {
		if e.client == client {
			c.s[i].clock = clock
			return
		}
	}
	if len(c.s) < smallMax {
		c.s = append(c.s, clientClock{client, clock})
		return
	}
	c.m = make(map[uint64]uint64, 2*smallMax)
	for _, e := range c.s {
		c.m[e.client] = e.clock
	}
	c.m[client] = clock
}

func (c *clockMap) len() int {
	if c.m != nil {
		return len(c.m)
	}
	return len(c.s)
}

// each calls f for every entry, in no particular order.
func (c *clockMap) each(f func(client, clock uint64)) {
	if c.m != nil {
		for k, v := range c.m {
			f(k, v)
		}
		return
	}
	for _, e := range c.s {
		f(e.client, e.clock)
	}
}

// toMap returns the entries as a map.
func (c *clockMap) toMap() map[uint64]uint64 {
	out := make(map[uint64]uint64, c.len())
	c.each(func(k, v uint64) { out[k] = v })
	return out
}

func (c *clockMap) reset() {
	c.s = c.s[:0]
	c.m = nil
}

// branchSet is a set of types.
type branchSet struct {
	s []*branch
	m map[*branch]struct{}
}

func (b *branchSet) add(t *branch) {
	if b.m != nil {
		b.m[t] = struct{}{}
		return
	}
	for _, x := range b.s {
		if x == t {
			return
		}
	}
	if len(b.s) < smallMax {
		b.s = append(b.s, t)
		return
	}
	b.m = make(map[*branch]struct{}, 2*smallMax)
	for _, x := range b.s {
		b.m[x] = struct{}{}
	}
	b.m[t] = struct{}{}
}

func (b *branchSet) remove(t *branch) {
	if b.m != nil {
		delete(b.m, t)
		return
	}
	for i, x := range b.s {
		if x == t {
			b.s = append(b.s[:i], b.s[i+1:]...)
			return
		}
	}
}

func (b *branchSet) each(f func(*branch)) {
	if b.m != nil {
		for t := range b.m {
			f(t)
		}
		return
	}
	for _, t := range b.s {
		f(t)
	}
}

func (b *branchSet) reset() {
	clear(b.s)
	b.s = b.s[:0]
	b.m = nil
}
