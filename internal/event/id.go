package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// IDs is a source of event ids: UUIDv7 (RFC 9562) written as 32 lowercase
// hex digits without dashes. Ids from one IDs are strictly increasing: the
// 12 bits after the millisecond timestamp are a counter (RFC 9562 §6.2,
// method 1), so ids made in the same millisecond still sort in the order
// they were made. The 62 random bits make ids from different processes
// unique. The zero value is ready to use; it is safe for concurrent use.
type IDs struct {
	// Now returns the current time; if nil, time.Now is used.
	Now func() time.Time

	last atomic.Uint64 // unix ms << 12 | counter of the last id
}

// New returns a new id.
func (g *IDs) New() string {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	ms := uint64(now().UnixMilli())
	var state uint64
	for {
		last := g.last.Load()
		state = ms << 12
		if state <= last {
			// Same millisecond (or the clock stepped back): count on. A
			// counter overflow carries into the timestamp, which keeps
			// the order at the cost of running a millisecond ahead.
			state = last + 1
		}
		if g.last.CompareAndSwap(last, state) {
			break
		}
	}
	return formatID(state, rand.Uint64())
}

func formatID(state, random uint64) string {
	var s [IDLen]byte
	putID(s[:], state, random)
	return string(s[:])
}

// IDAt returns the id of state (unix ms << 12 | a 12-bit counter), with
// random bits: the audit writer makes the ids of its own lines from the
// slot it stamps them with, so that they rise with eventTime in file
// order (docs/events.md "One event, one line").
func IDAt(state uint64) string { return formatID(state, rand.Uint64()) }

// StampID writes the id of state, with random bits, in place of the id of
// an encoded line (AppendJSON's), as StampTime does for its time.
func StampID(line []byte, state uint64) {
	putID(line[idOffset:idOffset+IDLen], state, rand.Uint64())
}

// putID writes the 32 hex digits of the UUIDv7 of state and random to
// dst.
func putID(dst []byte, state, random uint64) {
	var b [16]byte
	ms := state >> 12
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(state>>8)&0x0f // version 7, counter high bits
	b[7] = byte(state)
	b[8] = 0x80 | byte(random>>56)&0x3f // variant 10
	b[9], b[10], b[11], b[12], b[13], b[14], b[15] = byte(random>>48), byte(random>>40), byte(random>>32), byte(random>>24), byte(random>>16), byte(random>>8), byte(random)
	for i, v := range b {
		dst[2*i], dst[2*i+1] = hex[v>>4], hex[v&0xf]
	}
}

// ValidID reports whether id is 32 lowercase hex digits.
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// IDTime returns the millisecond timestamp at the front of a UUIDv7 id: the
// time the request started, so never later than the event's eventTime.
func IDTime(id string) (time.Time, bool) {
	if !ValidID(id) {
		return time.Time{}, false
	}
	var ms int64
	for i := 0; i < 12; i++ {
		c := id[i]
		v := int64(c - '0')
		if c >= 'a' {
			v = int64(c-'a') + 10
		}
		ms = ms<<4 | v
	}
	return time.UnixMilli(ms).UTC(), true
}

// ErrNotObject is returned by CompactObject for JSON that is not an object.
var ErrNotObject = errors.New("not a JSON object")

// CompactObject checks that raw is one JSON object and returns it compacted
// (no insignificant white space, so never a newline), ready for
// Event.Details or Response.ClientDetails.
func CompactObject(raw []byte) (json.RawMessage, error) {
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, err
	}
	if out.Len() == 0 || out.Bytes()[0] != '{' {
		return nil, ErrNotObject
	}
	return json.RawMessage(out.Bytes()), nil
}
