package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/quirehq/quire/crdt/lib0"
)

// MessageType is the leading varUint of a y-protocols message.
type MessageType uint64

// The message types of y-websocket (y-protocols' sync, awareness and auth,
// and y-websocket's own query-awareness).
const (
	MsgSync           MessageType = 0
	MsgAwareness      MessageType = 1
	MsgAuth           MessageType = 2
	MsgQueryAwareness MessageType = 3
)

func (t MessageType) String() string {
	switch t {
	case MsgSync:
		return "sync"
	case MsgAwareness:
		return "awareness"
	case MsgAuth:
		return "auth"
	case MsgQueryAwareness:
		return "query-awareness"
	}
	return fmt.Sprintf("type-%d", uint64(t))
}

// SyncType is the sub-type of a sync message.
type SyncType uint64

// Sync message sub-types (y-protocols sync.js).
const (
	SyncStep1  SyncType = 0 // payload: a v1 state vector
	SyncStep2  SyncType = 1 // payload: a v1 update, the answer to a step 1
	SyncUpdate SyncType = 2 // payload: a v1 update
)

func (t SyncType) String() string {
	switch t {
	case SyncStep1:
		return "step1"
	case SyncStep2:
		return "step2"
	case SyncUpdate:
		return "update"
	}
	return fmt.Sprintf("sync-%d", uint64(t))
}

// AuthPermissionDenied is the only auth sub-type y-protocols defines.
const AuthPermissionDenied = 0

// ErrMalformed is wrapped by every decoding error of this file, so a caller
// can tell a peer's bad input (close that peer, 1007) from its own failures.
var ErrMalformed = errors.New("malformed message")

// Message is one decoded y-protocols message. Payload aliases the frame it
// was decoded from: copy it before keeping it past the frame's lifetime.
type Message struct {
	Type MessageType
	// Sync is the sub-type of a MsgSync message.
	Sync SyncType
	// Payload is the state vector or update of a sync message, the
	// awareness update of an awareness message, the reason of an auth
	// message, and the undecoded rest of the frame for an unknown type.
	Payload []byte
	// Auth is the sub-type of a MsgAuth message.
	Auth uint64
}

// DecodeFrame decodes every message of one y-websocket frame (one binary
// WebSocket message). Current y-websocket clients send one message per
// frame, the v4 client and other implementations may send several, so all
// are read. A message of an unknown type ends the frame: its length cannot
// be known, so it is returned with the rest of the frame as its Payload,
// for the caller to ignore as the reference server does. Any other
// malformation is an error wrapping ErrMalformed and no message is
// returned, so that a frame is acted on whole or not at all.
func DecodeFrame(frame []byte) ([]Message, error) {
	if len(frame) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	d := lib0.NewDecoder(frame)
	var msgs []Message
	for d.Remaining() > 0 {
		start := d.Pos()
		m, known := decodeMessage(d)
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("%w: message %d (byte %d): %w", ErrMalformed, len(msgs), start, err)
		}
		msgs = append(msgs, m)
		if !known {
			break
		}
	}
	return msgs, nil
}

// decodeMessage reads one message; known is false for an unknown type,
// whose Payload is then the rest of the input.
func decodeMessage(d *lib0.Decoder) (m Message, known bool) {
	m.Type = MessageType(d.ReadVarUint())
	switch m.Type {
	case MsgSync:
		m.Sync = SyncType(d.ReadVarUint())
		if d.Err() == nil && m.Sync > SyncUpdate {
			d.Fail(fmt.Errorf("unknown sync message type %d", uint64(m.Sync)))
		}
		m.Payload = d.ReadVarBytes()
	case MsgAwareness:
		m.Payload = d.ReadVarBytes()
	case MsgAuth:
		m.Auth = d.ReadVarUint()
		if d.Err() == nil && m.Auth == AuthPermissionDenied {
			m.Payload = d.ReadVarStringBytes()
		}
		// Other auth sub-types (yrs sends 1, "granted") carry nothing.
	case MsgQueryAwareness:
	default:
		m.Payload = d.ReadBytes(d.Remaining())
		return m, false
	}
	return m, true
}

// AppendMessage appends the encoding of m to dst. Together with
// DecodeFrame it round-trips every known message.
func AppendMessage(dst []byte, m Message) []byte {
	e := lib0.Encoder{}
	e.WriteBytes(dst)
	e.WriteVarUint(uint64(m.Type))
	switch m.Type {
	case MsgSync:
		e.WriteVarUint(uint64(m.Sync))
		e.WriteVarBytes(m.Payload)
	case MsgAwareness:
		e.WriteVarBytes(m.Payload)
	case MsgAuth:
		e.WriteVarUint(m.Auth)
		if m.Auth == AuthPermissionDenied {
			e.WriteVarStringBytes(m.Payload)
		}
	case MsgQueryAwareness:
	default:
		e.WriteBytes(m.Payload)
	}
	return e.Bytes()
}

func encodeSync(t SyncType, payload []byte) []byte {
	return AppendMessage(make([]byte, 0, len(payload)+8), Message{Type: MsgSync, Sync: t, Payload: payload})
}

// EncodeSyncStep1 encodes a sync step 1 carrying the v1 state vector sv.
func EncodeSyncStep1(sv []byte) []byte { return encodeSync(SyncStep1, sv) }

// EncodeSyncStep2 encodes a sync step 2 carrying a v1 update.
func EncodeSyncStep2(update []byte) []byte { return encodeSync(SyncStep2, update) }

// EncodeSyncUpdate encodes a sync update message.
func EncodeSyncUpdate(update []byte) []byte { return encodeSync(SyncUpdate, update) }

// EncodeAwareness encodes an awareness message around an awareness update
// (see EncodeAwarenessUpdate).
func EncodeAwareness(update []byte) []byte {
	return AppendMessage(make([]byte, 0, len(update)+6), Message{Type: MsgAwareness, Payload: update})
}

// EncodeQueryAwareness encodes a query-awareness message.
func EncodeQueryAwareness() []byte { return []byte{byte(MsgQueryAwareness)} }

// EncodeAuthDenied encodes a permission-denied auth message.
func EncodeAuthDenied(reason string) []byte {
	return AppendMessage(nil, Message{Type: MsgAuth, Auth: AuthPermissionDenied, Payload: []byte(reason)})
}

// keepaliveMessage is an awareness update with no entries. A y-websocket
// client reconnects when it has received nothing for 30 s; this message
// resets that watchdog and changes nothing on the client.
var keepaliveMessage = EncodeAwareness([]byte{0})

// AwarenessEntry is one client's state in an awareness update.
type AwarenessEntry struct {
	ClientID uint64
	Clock    uint64
	// State is the JSON text of the state as the client sent it; "null"
	// means the client is gone.
	State []byte
}

// IsNull reports whether the entry removes its client.
func (e AwarenessEntry) IsNull() bool { return isJSONNull(e.State) }

func isJSONNull(s []byte) bool { return bytes.Equal(bytes.TrimSpace(s), nullJSON) }

var nullJSON = []byte("null")

// DecodeAwarenessUpdate decodes the payload of an awareness message:
// varUint n, then n × (varUint clientID, varUint clock, varString JSON).
// The JSON must be valid (y-protocols JSON.parses it and would throw).
// State slices alias update.
func DecodeAwarenessUpdate(update []byte) ([]AwarenessEntry, error) {
	return decodeAwareness(update, true)
}

// decodeAwareness is DecodeAwarenessUpdate, checking the JSON of each
// state only if validate is set: the echo filter looks at clocks alone,
// and whatever it lets through is decoded again, validated, by the
// session.
func decodeAwareness(update []byte, validate bool) ([]AwarenessEntry, error) {
	d := lib0.NewDecoder(update)
	n := d.ReadVarUint()
	// Each entry takes at least 3 bytes; check before allocating.
	if d.Err() == nil && n > uint64(d.Remaining())/3 {
		return nil, fmt.Errorf("%w: awareness update claims %d entries in %d bytes", ErrMalformed, n, len(update))
	}
	entries := make([]AwarenessEntry, 0, n)
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		var e AwarenessEntry
		e.ClientID = d.ReadVarUint()
		e.Clock = d.ReadVarUint()
		e.State = d.ReadVarStringBytes()
		if validate && d.Err() == nil && !json.Valid(e.State) {
			return nil, fmt.Errorf("%w: awareness state of client %d is not JSON", ErrMalformed, e.ClientID)
		}
		entries = append(entries, e)
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: awareness update: %w", ErrMalformed, err)
	}
	if d.Remaining() > 0 {
		return nil, fmt.Errorf("%w: awareness update has %d trailing bytes", ErrMalformed, d.Remaining())
	}
	return entries, nil
}

// EncodeAwarenessUpdate encodes entries as an awareness update. A nil or
// empty State encodes as null.
func EncodeAwarenessUpdate(entries []AwarenessEntry) []byte {
	var e lib0.Encoder
	e.WriteVarUint(uint64(len(entries)))
	for _, en := range entries {
		e.WriteVarUint(en.ClientID)
		e.WriteVarUint(en.Clock)
		if len(en.State) == 0 {
			e.WriteVarStringBytes(nullJSON)
		} else {
			e.WriteVarStringBytes(en.State)
		}
	}
	return e.Bytes()
}
