package webhook

import (
	"bytes"
	"encoding/json"
	"slices"
	"unsafe"

	"github.com/trailcar/trailcar/internal/event"
)

// The layout event.AppendJSON always writes: a fixed-width id and time,
// then type and level.
const (
	idPrefix   = `{"id":"`
	typeKey    = `","type":"`
	levelKey   = `","level":"`
	typeOffset = event.TimeOffset + event.TimeLen + len(typeKey)
)

// wanted reports whether line passes the level and type filters and is not
// a report of this endpoint's own failure (which would loop).
func (d *Dispatcher) wanted(line []byte) bool {
	typ, level, ok := typeAndLevel(line)
	if !ok {
		var e event.Event
		if err := event.Decode(line, &e); err != nil {
			d.log.Warn("webhook: not an event, not sent", "err", err)
			return false
		}
		typ, level = e.Type, e.Level
	}
	if len(d.levels) > 0 && !slices.Contains(d.levels, level) {
		return false
	}
	if len(d.types) > 0 {
		matched := false
		for _, p := range d.types {
			if p.Match(typ) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	if typ == TypeDeliveryFailed && failedEndpoint(line) == d.endpoint {
		return false
	}
	return true
}

// typeAndLevel reads type and level from where event.AppendJSON puts them,
// without decoding the line. The strings share line's memory: line is
// immutable (Publish's contract), and they do not outlive the Publish
// call, so no copy (and no allocation) is needed. ok is false when the
// line is not in that layout or a value is escaped; the caller then
// decodes it.
func typeAndLevel(line []byte) (typ, level string, ok bool) {
	if len(line) < typeOffset || string(line[:len(idPrefix)]) != idPrefix ||
		string(line[typeOffset-len(typeKey):typeOffset]) != typeKey {
		return "", "", false
	}
	rest := line[typeOffset:]
	typ, rest, ok = stringValue(rest)
	if !ok || !bytes.HasPrefix(rest, []byte(levelKey)) {
		return "", "", false
	}
	level, _, ok = stringValue(rest[len(levelKey):])
	return typ, level, ok
}

// stringValue returns the unescaped string value at the start of b (its
// opening quote already consumed) and what follows from its closing quote.
func stringValue(b []byte) (value string, rest []byte, ok bool) {
	end := bytes.IndexByte(b, '"')
	if end <= 0 || bytes.IndexByte(b[:end], '\\') >= 0 {
		return "", nil, false
	}
	return unsafe.String(&b[0], end), b[end:], true
}

// eventID returns the id of an encoded event, or "" if it has none.
func eventID(line []byte) string {
	const end = len(idPrefix) + event.IDLen
	if len(line) > end && string(line[:len(idPrefix)]) == idPrefix && line[end] == '"' {
		return string(line[len(idPrefix):end])
	}
	var e event.Event
	if event.Decode(line, &e) != nil {
		return ""
	}
	return e.ID
}

// failedEndpoint returns details.endpoint of a delivery_failed event.
func failedEndpoint(line []byte) string {
	var e event.Event
	if event.Decode(line, &e) != nil {
		return ""
	}
	var details struct {
		Endpoint string `json:"endpoint"`
	}
	if json.Unmarshal(e.Details, &details) != nil {
		return ""
	}
	return details.Endpoint
}
