package store

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/trailcar/trailcar/internal/event"
)

// Cursor is a position in the newest-first order of events: the next page
// holds the events after it (older). It names the last event returned by
// its eventTime and id, and by how many events with that same eventTime
// came before it, newest first, so that:
//   - events appended later (always newer) never enter a page that
//     resumes from a cursor;
//   - rotation, compression and deletion of other events do not move it;
//   - events sharing one eventTime (the text has microseconds) are told
//     apart by their place in the files; if the cursor's own event was
//     deleted meanwhile, its place counts instead.
//
// A Cursor is also independent of the filter: it may be used with
// another one, and a filter's events are visited in the same order.
type Cursor struct {
	Time string // eventTime text of the last event returned
	ID   string // its id
	N    int    // its place, from 1, among events with eventTime Time
}

// cursorVersion prefixes the encoded form, so a later format can tell.
const cursorVersion = "1"

// String encodes c as an opaque URL-safe string.
func (c Cursor) String() string {
	return string(c.Append(nil))
}

// Append appends the encoded cursor to b.
func (c Cursor) Append(b []byte) []byte {
	var raw [128]byte
	r := append(raw[:0], cursorVersion+"."...)
	r = append(append(append(append(r, c.Time...), '.'), c.ID...), '.')
	r = strconv.AppendInt(r, int64(c.N), 10)
	return base64.RawURLEncoding.AppendEncode(b, r)
}

// ErrBadCursor is returned by ParseCursor.
var ErrBadCursor = errors.New("not a cursor returned by this server")

// ParseCursor decodes a cursor made by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	parts := strings.Split(string(raw), ".")
	// The time itself has a '.' before its fraction.
	if len(parts) != 5 || parts[0] != cursorVersion {
		return Cursor{}, ErrBadCursor
	}
	c := Cursor{Time: parts[1] + "." + parts[2], ID: parts[3]}
	if !event.ValidTimeText([]byte(c.Time)) || !event.ValidID(c.ID) {
		return Cursor{}, ErrBadCursor
	}
	c.N, err = strconv.Atoi(parts[4])
	if err != nil || c.N < 1 || strconv.Itoa(c.N) != parts[4] {
		return Cursor{}, ErrBadCursor
	}
	return c, nil
}
