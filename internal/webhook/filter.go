package webhook

import (
	"bytes"
	"encoding/json"
	"slices"
	"unsafe"

	"github.com/trailcar/trailcar/internal/event"
)

// wanted reports whether line passes the level and type filters and is not
// a report of this endpoint's own failure (which would loop).
func (d *Dispatcher) wanted(line []byte) bool {
	var fl event.Fields
	var typ, level string
	if event.ScanLine(bytes.TrimSuffix(line, []byte("\n")), &fl) && fl.Exact() {
		// The strings share line's memory: line is immutable (Publish's
		// contract) and they do not outlive the call, so no copy.
		typ, level = unsafe.String(unsafe.SliceData(fl.Type), len(fl.Type)), unsafe.String(unsafe.SliceData(fl.Level), len(fl.Level))
	} else {
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

// eventID returns the id of an encoded event, or "" if it has none.
func eventID(line []byte) string {
	if id, ok := event.LineID(line); ok {
		return string(id)
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
