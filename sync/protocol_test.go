package sync

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/storage"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The vectors are from the y-websocket transcript in yjs-wire.md (printed
// by y-websocket 3.1.0 and y-protocols 1.0.7).
func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		want  []Message
	}{
		{"empty step1", "00 00 01 00", []Message{{Type: MsgSync, Sync: SyncStep1, Payload: []byte{0}}}},
		{"empty step2", "00 01 02 00 00", []Message{{Type: MsgSync, Sync: SyncStep2, Payload: []byte{0, 0}}}},
		{"step1 with a client", "00 00 03 01 0b 02", []Message{{Type: MsgSync, Sync: SyncStep1, Payload: []byte{1, 0x0b, 2}}}},
		{"update hi", "00 02 0c 01 01 0b 00 04 01 01 74 02 68 69 00",
			[]Message{{Type: MsgSync, Sync: SyncUpdate, Payload: unhex(t, "01 01 0b 00 04 01 01 74 02 68 69 00")}}},
		{"awareness", "01 0b 01 0b 01 07 7b226e223a317d",
			[]Message{{Type: MsgAwareness, Payload: unhex(t, "01 0b 01 07 7b226e223a317d")}}},
		{"query awareness", "03", []Message{{Type: MsgQueryAwareness}}},
		{"auth denied", "02 00 03 6e6f70", []Message{{Type: MsgAuth, Auth: 0, Payload: []byte("nop")}}},
		{"auth granted (yrs)", "02 01", []Message{{Type: MsgAuth, Auth: 1}}},
		{"two messages", "00 00 01 00 03", []Message{
			{Type: MsgSync, Sync: SyncStep1, Payload: []byte{0}}, {Type: MsgQueryAwareness}}},
		{"unknown type ends the frame", "03 07 01 02 03", []Message{
			{Type: MsgQueryAwareness}, {Type: 7, Payload: []byte{1, 2, 3}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := unhex(t, tt.frame)
			got, err := DecodeFrame(frame)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages, want %d: %+v", len(got), len(tt.want), got)
			}
			var re []byte
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Type != w.Type || g.Sync != w.Sync || g.Auth != w.Auth || !bytes.Equal(g.Payload, w.Payload) {
					t.Errorf("message %d = %+v, want %+v", i, g, w)
				}
				re = AppendMessage(re, g)
			}
			if !bytes.Equal(re, frame) {
				t.Errorf("re-encoded % x, want % x", re, frame)
			}
		})
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	tests := []struct{ name, frame string }{
		{"empty", ""},
		{"truncated type", "80"},
		{"sync without subtype", "00"},
		{"unknown sync subtype", "00 03 00"},
		{"truncated payload", "00 02 05 01 02"},
		{"awareness without payload", "01"},
		{"second message bad", "03 00 02 09"},
		{"auth reason not utf-8", "02 00 01 ff"},
		{"varuint too long", "00 02 ff ff ff ff ff ff ff ff ff ff 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := DecodeFrame(unhex(t, tt.frame))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if msgs != nil {
				t.Errorf("messages returned with an error: %+v", msgs)
			}
		})
	}
}

func TestEncoders(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"step1", EncodeSyncStep1([]byte{0}), "00 00 01 00"},
		{"step2", EncodeSyncStep2([]byte{0, 0}), "00 01 02 00 00"},
		{"update", EncodeSyncUpdate(unhex(t, "01 01 0b 00 04 01 01 74 02 68 69 00")), "00 02 0c 01 01 0b 00 04 01 01 74 02 68 69 00"},
		{"awareness", EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 7, Clock: 1, State: []byte(`{"user":{"name":"A"}}`)}})),
			"01 19 01 07 01 15" + hex.EncodeToString([]byte(`{"user":{"name":"A"}}`))},
		{"awareness removal", EncodeAwareness(EncodeAwarenessUpdate([]AwarenessEntry{{ClientID: 7, Clock: 2}})), "01 08 01 07 02 04 6e756c6c"},
		{"query", EncodeQueryAwareness(), "03"},
		{"denied", EncodeAuthDenied("no"), "02 00 02 6e6f"},
		{"keepalive", keepaliveMessage, "01 01 00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := unhex(t, tt.want); !bytes.Equal(tt.got, want) {
				t.Errorf("got % x, want % x", tt.got, want)
			}
		})
	}
}

func TestAwarenessUpdateCodec(t *testing.T) {
	good := []struct {
		name string
		in   string
		want []AwarenessEntry
	}{
		{"empty", "00", []AwarenessEntry{}},
		{"one", "01 0b 01 07 7b226e223a317d", []AwarenessEntry{{11, 1, []byte(`{"n":1}`)}}},
		{"removal", "01 07 02 04 6e756c6c", []AwarenessEntry{{7, 2, []byte("null")}}},
		{"two", "02 01 01 02 7b7d 02 05 04 6e756c6c", []AwarenessEntry{{1, 1, []byte("{}")}, {2, 5, []byte("null")}}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			got, err := DecodeAwarenessUpdate(in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].ClientID != tt.want[i].ClientID || got[i].Clock != tt.want[i].Clock || !bytes.Equal(got[i].State, tt.want[i].State) {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if re := EncodeAwarenessUpdate(got); !bytes.Equal(re, in) {
				t.Errorf("re-encoded % x, want % x", re, in)
			}
		})
	}
	bad := []struct{ name, in string }{
		{"empty input", ""},
		{"count too big", "05 01 01 00"},
		{"truncated", "01 0b 01 07 7b22"},
		{"not json", "01 0b 01 03 616263"},
		{"trailing bytes", "01 0b 01 02 7b7d 00"},
		{"not utf-8", "01 0b 01 01 ff"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeAwarenessUpdate(unhex(t, tt.in)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// frameSeeds are valid and nearly valid frames for the fuzzers.
func frameSeeds(f *testing.F) {
	for _, s := range []string{
		"00 00 01 00", "00 01 02 00 00", "00 02 0c 01 01 0b 00 04 01 01 74 02 68 69 00",
		"01 0b 01 0b 01 07 7b226e223a317d", "01 07 01 07 02 04 6e756c6c", "03", "02 00 02 6e6f", "02 01",
		"00 00 01 00 03 01 01 00", "09 01 02", "00 00 03 01 0b 02",
	} {
		f.Add(unhex(f, s))
	}
}

// FuzzFrame: DecodeFrame never panics, and what it decodes re-encodes to
// the same bytes.
func FuzzFrame(f *testing.F) {
	frameSeeds(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		msgs, err := DecodeFrame(frame)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		var re []byte
		for _, m := range msgs {
			re = AppendMessage(re, m)
		}
		again, err := DecodeFrame(re)
		if err != nil || len(again) != len(msgs) {
			t.Fatalf("re-encoded frame does not decode alike: %v", err)
		}
		for i := range msgs {
			if again[i].Type != msgs[i].Type || again[i].Sync != msgs[i].Sync || !bytes.Equal(again[i].Payload, msgs[i].Payload) {
				t.Fatalf("message %d changed in a round trip", i)
			}
		}
	})
}

// FuzzAwarenessUpdate: the awareness decoder never panics; what it
// accepts round-trips, and the table takes it without panicking.
func FuzzAwarenessUpdate(f *testing.F) {
	for _, s := range []string{"00", "01 0b 01 07 7b226e223a317d", "01 07 02 04 6e756c6c", "02 01 01 02 7b7d 02 05 04 6e756c6c", "01 00 00 02 5b5d"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, update []byte) {
		entries, err := DecodeAwarenessUpdate(update)
		if err != nil {
			return
		}
		if re := EncodeAwarenessUpdate(entries); !bytes.Equal(re, update) {
			// Only the spelling of a varUint may differ (lib0 accepts
			// redundant zero groups); the entries must not.
			again, err := DecodeAwarenessUpdate(re)
			if err != nil || len(again) != len(entries) {
				t.Fatalf("round trip changed the entries: %v", err)
			}
		}
		aw := newAwareness(0, 16)
		p := &Peer{}
		aw.apply(p, entries, time.Time{})
		aw.removePeer(p, time.Time{})
	})
}

// FuzzSession feeds one frame to a session's handlers (decode, apply to a
// crdt.Doc, answer step 1, awareness) and checks that nothing panics and
// that the peer either stays or is closed for its input.
func FuzzSession(f *testing.F) {
	frameSeeds(f)
	d := crdt.NewDoc(crdt.Options{ClientID: 5})
	var ups [][]byte
	d.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = d.Text("t").Insert(0, "hello", nil)
	f.Add(EncodeSyncUpdate(ups[0]))
	f.Add(append(EncodeSyncStep2(ups[0]), EncodeSyncStep1([]byte{1, 5, 2})...))
	f.Fuzz(func(t *testing.T, frame []byte) {
		msgs, err := DecodeFrame(frame)
		if err != nil {
			return
		}
		h := NewHub(Config{Store: storage.NewMemory()})
		s := newSession(h, "fuzz")
		s.doc = crdt.NewDoc(crdt.Options{ClientID: 1})
		s.doc.OnUpdate(func(u []byte) { s.emitted = append(s.emitted, u) })
		p := newPeer(h, newPipe("fuzz", 1))
		s.peers[p] = struct{}{}
		s.frame(p, msgs)
		if closing, code, _ := p.closed(); closing && code != CloseInvalidPayload {
			t.Fatalf("peer closed with %d", code)
		}
		// Whatever the doc took must encode and load again.
		full, err := s.doc.EncodeStateAsUpdate(nil)
		if err != nil {
			t.Fatalf("encode after fuzzed frame: %v", err)
		}
		if err := crdt.NewDoc(crdt.Options{}).ApplyUpdate(full); err != nil {
			t.Fatalf("state after fuzzed frame does not load: %v", err)
		}
	})
}

// FuzzSessionCold: a cold session (encoded state and summary, no replica)
// answers a frame as a session holding a replica does: the same peer
// closed or not, and a state with the same state vector, which loads.
func FuzzSessionCold(f *testing.F) {
	frameSeeds(f)
	d := crdt.NewDoc(crdt.Options{ClientID: 5})
	var ups [][]byte
	d.OnUpdate(func(u []byte) { ups = append(ups, u) })
	_ = d.Text("t").Insert(0, "hello", nil)
	_ = d.Text("t").Delete(1, 2)
	base, err := d.EncodeStateAsUpdate(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(EncodeSyncUpdate(ups[0]))
	f.Add(append(EncodeSyncStep2(ups[1]), EncodeSyncStep1([]byte{1, 5, 2})...))
	f.Fuzz(func(t *testing.T, frame []byte) {
		msgs, err := DecodeFrame(frame)
		if err != nil {
			return
		}
		h := NewHub(Config{Store: storage.NewMemory()})
		hot := newSession(h, "hot")
		hot.doc = crdt.NewDoc(crdt.Options{ClientID: 1})
		if err := hot.doc.ApplyUpdate(base); err != nil {
			t.Fatal(err)
		}
		hot.doc.OnUpdate(func(u []byte) { hot.emitted = append(hot.emitted, u) })
		cold := newSession(h, "cold")
		sum, ok := crdt.NewSummary(base)
		if !ok {
			t.Fatal("no summary of the base")
		}
		cold.setCold(base, nil, sum)
		ph, pc := newPeer(h, newPipe("hot", 1)), newPeer(h, newPipe("cold", 1))
		hot.peers[ph], cold.peers[pc] = struct{}{}, struct{}{}
		hot.frame(ph, msgs)
		cold.frame(pc, msgs)
		hc, hcode, _ := ph.closed()
		cc, ccode, _ := pc.closed()
		if hc != cc || hcode != ccode {
			t.Fatalf("replica: closed %v (%d); cold: closed %v (%d)", hc, hcode, cc, ccode)
		}
		var got *crdt.Doc
		if cold.doc != nil {
			got = cold.doc // woken
		} else {
			state, err := cold.coldState()
			if err != nil {
				t.Fatal(err)
			}
			got = crdt.NewDoc(crdt.Options{ClientID: 2})
			if err := got.ApplyUpdate(state); err != nil {
				t.Fatalf("cold state does not load: %v", err)
			}
			if !bytes.Equal(cold.stateVector(), got.EncodeStateVector()) {
				t.Fatalf("cold state vector %x, its state's %x", cold.stateVector(), got.EncodeStateVector())
			}
		}
		if !bytes.Equal(got.EncodeStateVector(), hot.doc.EncodeStateVector()) || got.PendingSize() != hot.doc.PendingSize() {
			t.Fatalf("cold state vector %v (pending %d), replica's %v (pending %d)",
				got.StateVector(), got.PendingSize(), hot.doc.StateVector(), hot.doc.PendingSize())
		}
	})
}
