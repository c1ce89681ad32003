package sync

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func entry(id, clock uint64, state string) AwarenessEntry {
	return AwarenessEntry{ClientID: id, Clock: clock, State: []byte(state)}
}

func fmtEntries(es []AwarenessEntry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%d@%d=%s", e.ClientID, e.Clock, e.State))
	}
	return strings.Join(parts, " ")
}

// TestAwarenessApply checks y-protocols' rules (applyAwarenessUpdate) and
// the ownership move.
func TestAwarenessApply(t *testing.T) {
	a, b := &Peer{id: 1}, &Peer{id: 2}
	type step struct {
		from    *Peer
		entries []AwarenessEntry
		want    string // the entries to broadcast
	}
	tests := []struct {
		name  string
		steps []step
		live  string // states() at the end
	}{
		{"clock 0 of an unknown client is not taken", []step{
			{a, []AwarenessEntry{entry(7, 0, `{}`)}, ""},
		}, ""},
		{"new client", []step{
			{a, []AwarenessEntry{entry(7, 1, `{"n":1}`)}, `7@1={"n":1}`},
		}, `7@1={"n":1}`},
		{"newer clock wins, older and equal are dropped", []step{
			{a, []AwarenessEntry{entry(7, 3, `{"n":3}`)}, `7@3={"n":3}`},
			{a, []AwarenessEntry{entry(7, 2, `{"n":2}`)}, ""},
			{a, []AwarenessEntry{entry(7, 3, `{"n":9}`)}, ""},
			{a, []AwarenessEntry{entry(7, 4, `{"n":4}`)}, `7@4={"n":4}`},
		}, `7@4={"n":4}`},
		{"renewal with the same state is broadcast", []step{
			{a, []AwarenessEntry{entry(7, 1, `{}`)}, `7@1={}`},
			{a, []AwarenessEntry{entry(7, 2, `{}`)}, `7@2={}`},
		}, `7@2={}`},
		{"null at the same clock removes a present state", []step{
			{a, []AwarenessEntry{entry(7, 1, `{}`)}, `7@1={}`},
			{a, []AwarenessEntry{entry(7, 1, `null`)}, `7@1=null`},
			{a, []AwarenessEntry{entry(7, 1, `null`)}, ""},
		}, ""},
		{"null of an unknown client is not announced", []step{
			{a, []AwarenessEntry{entry(7, 4, `null`)}, ""},
			{a, []AwarenessEntry{entry(7, 3, `{}`)}, ""},
			{a, []AwarenessEntry{entry(7, 5, `{}`)}, `7@5={}`},
		}, `7@5={}`},
		{"echoes from other peers are dropped", []step{
			{a, []AwarenessEntry{entry(7, 2, `{"x":1}`)}, `7@2={"x":1}`},
			{b, []AwarenessEntry{entry(7, 2, `{"x":1}`)}, ""},
			{b, []AwarenessEntry{entry(7, 3, `{"x":2}`)}, `7@3={"x":2}`},
		}, `7@3={"x":2}`},
		{"several entries", []step{
			{a, []AwarenessEntry{entry(1, 1, `{}`), entry(2, 1, `[1]`), entry(3, 0, `{}`)}, `1@1={} 2@1=[1]`},
		}, `1@1={} 2@1=[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aw := newAwareness(0, 0)
			now := time.Unix(1000, 0)
			for i, s := range tt.steps {
				got, _ := aw.apply(s.from, s.entries, now)
				if fmtEntries(got) != s.want {
					t.Errorf("step %d: broadcast %q, want %q", i, fmtEntries(got), s.want)
				}
			}
			if got := fmtEntries(aw.states()); got != tt.live {
				t.Errorf("states %q, want %q", got, tt.live)
			}
		})
	}
}

func TestAwarenessRemovePeer(t *testing.T) {
	a, b := &Peer{id: 1}, &Peer{id: 2}
	aw := newAwareness(0, 0)
	now := time.Unix(1000, 0)
	aw.apply(a, []AwarenessEntry{entry(1, 3, `{"a":1}`), entry(2, 1, `{"a":2}`)}, now)
	aw.apply(b, []AwarenessEntry{entry(3, 1, `{"b":1}`)}, now)
	// b echoes a's states (y-websocket clients do): a still owns them.
	aw.apply(b, []AwarenessEntry{entry(1, 3, `{"a":1}`), entry(2, 1, `{"a":2}`)}, now)
	// Client 2 came back through b with a newer clock: b owns it now.
	aw.apply(b, []AwarenessEntry{entry(2, 2, `{"a":2}`)}, now)
	if got, want := fmtEntries(aw.removePeer(a, now)), `1@3=null`; got != want {
		t.Errorf("removal of a: %q, want %q", got, want)
	}
	if got, want := fmtEntries(aw.states()), `2@2={"a":2} 3@1={"b":1}`; got != want {
		t.Errorf("states %q, want %q", got, want)
	}
	// The removal stands against the same clock (a late echo), not a
	// newer one (the client's renewal).
	if got := fmtEntries(mustApply(aw, b, entry(1, 3, `{"a":1}`), now)); got != "" {
		t.Errorf("late echo taken: %q", got)
	}
	if got, want := fmtEntries(mustApply(aw, b, entry(1, 4, `{"a":1}`), now)), `1@4={"a":1}`; got != want {
		t.Errorf("renewal: %q, want %q", got, want)
	}
	if got := fmtEntries(aw.removePeer(a, now)); got != "" {
		t.Errorf("second removal of a: %q", got)
	}
}

func mustApply(aw *awareness, p *Peer, e AwarenessEntry, now time.Time) []AwarenessEntry {
	got, _ := aw.apply(p, []AwarenessEntry{e}, now)
	return got
}

func TestAwarenessExpire(t *testing.T) {
	a := &Peer{id: 1}
	aw := newAwareness(30*time.Second, 0)
	t0 := time.Unix(1000, 0)
	aw.apply(a, []AwarenessEntry{entry(1, 1, `{}`), entry(2, 1, `{}`)}, t0)
	aw.apply(a, []AwarenessEntry{entry(2, 2, `{}`)}, t0.Add(20*time.Second))
	if got := fmtEntries(aw.expire(t0.Add(29 * time.Second))); got != "" {
		t.Errorf("expired early: %q", got)
	}
	if got, want := fmtEntries(aw.expire(t0.Add(30*time.Second))), "1@1=null"; got != want {
		t.Errorf("expire: %q, want %q", got, want)
	}
	// The tombstone keeps a late copy of the old state out...
	if got := fmtEntries(mustApply(aw, a, entry(1, 1, `{}`), t0.Add(31*time.Second))); got != "" {
		t.Errorf("stale state taken: %q", got)
	}
	// ...and is forgotten a timeout later, when client 2 expires.
	if got, want := fmtEntries(aw.expire(t0.Add(61*time.Second))), "2@2=null"; got != want {
		t.Errorf("expire: %q, want %q", got, want)
	}
	if _, ok := aw.records[1]; ok {
		t.Error("tombstone not forgotten")
	}
	if got := len(aw.records); got != 1 {
		t.Errorf("%d records left, want 1", got)
	}
}

func TestAwarenessLimit(t *testing.T) {
	a := &Peer{id: 1}
	aw := newAwareness(0, 2)
	now := time.Unix(1000, 0)
	got, ignored := aw.apply(a, []AwarenessEntry{entry(1, 1, `{}`), entry(2, 1, `{}`), entry(3, 1, `{}`)}, now)
	if fmtEntries(got) != "1@1={} 2@1={}" || ignored != 1 {
		t.Errorf("got %q, ignored %d", fmtEntries(got), ignored)
	}
	// Known clients still update.
	if got := fmtEntries(mustApply(aw, a, entry(2, 2, `{"x":1}`), now)); got != `2@2={"x":1}` {
		t.Errorf("update of a known client: %q", got)
	}
}

// TestAwarenessEchoFilter: the readers' mirror of the clocks calls stale
// exactly the entries apply ignores.
func TestAwarenessEchoFilter(t *testing.T) {
	a := newAwareness(time.Minute, 0)
	p := &Peer{}
	now := time.Now()
	a.apply(p, []AwarenessEntry{{ClientID: 1, Clock: 3, State: []byte(`{"x":1}`)}}, now)
	tests := []struct {
		name  string
		entry AwarenessEntry
		stale bool
	}{
		{"echo: same clock, live state", AwarenessEntry{ClientID: 1, Clock: 3, State: []byte(`{"x":1}`)}, true},
		{"older clock", AwarenessEntry{ClientID: 1, Clock: 2, State: []byte(`{"x":0}`)}, true},
		{"newer clock", AwarenessEntry{ClientID: 1, Clock: 4, State: []byte(`{"x":2}`)}, false},
		{"same clock, removal", AwarenessEntry{ClientID: 1, Clock: 3, State: nullJSON}, false},
		{"unknown client", AwarenessEntry{ClientID: 2, Clock: 1, State: []byte(`{}`)}, false},
	}
	for _, tt := range tests {
		if got := a.clocks.stale([]AwarenessEntry{tt.entry}); got != tt.stale {
			t.Errorf("%s: stale = %v, want %v", tt.name, got, tt.stale)
		}
		if tt.stale {
			if changed, _ := a.apply(p, []AwarenessEntry{tt.entry}, now); len(changed) != 0 {
				t.Errorf("%s: called stale but apply took it", tt.name)
			}
		}
	}
	// A stale entry beside a fresh one: the frame goes to the session.
	if a.clocks.stale([]AwarenessEntry{{ClientID: 1, Clock: 3, State: []byte(`{}`)}, {ClientID: 9, Clock: 1, State: []byte(`{}`)}}) {
		t.Error("a frame with a new client called stale")
	}
	// Expired tombstones leave the mirror with the table.
	a.expire(now.Add(2 * time.Minute))
	a.expire(now.Add(4 * time.Minute))
	if len(a.clocks.m) != 0 || len(a.records) != 0 {
		t.Errorf("after expiry: %d clocks, %d records", len(a.clocks.m), len(a.records))
	}
}
