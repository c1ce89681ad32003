package crdt

// ID names one unit of content: the clock-th unit that client created.
// Clocks count UTF-16 code units for strings and one per element otherwise,
// so an item of length n owns the IDs (client, clock) … (client, clock+n-1).
type ID struct {
	Client uint64
	Clock  uint64
}
