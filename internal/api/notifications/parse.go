package notifications

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
)

// Notification is a validated request body.
type Notification struct {
	Message       string
	Status        string // StatusSuccess or StatusError
	By            string
	ComponentID   string
	ComponentType string
	Details       json.RawMessage // compact object, or nil
	// TSDisplay is the app's own time of the notification, Unix ms; 0
	// when not given.
	TSDisplay int64
}

// fields are the keys a body may have, in the order errors are reported.
var fields = []string{"message", "status", "by", "component_id", "component_type", "details", "ts_display"}

// Parse validates a request body. The error names the first bad field
// ("message: required") or every unknown key ("unknown field(s): colour,
// size; want message, status, by, component_id, component_type, details").
func Parse(body []byte) (Notification, error) {
	var raw map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) == 0 {
		return Notification{}, errors.New("body: want a JSON object, got nothing")
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return Notification{}, fmt.Errorf("body: want a JSON object, got %s", typeErr.Value)
		}
		return Notification{}, fmt.Errorf("body: invalid JSON: %w", err)
	}
	if raw == nil {
		return Notification{}, errors.New("body: want a JSON object, got null")
	}
	if err := unknownKeys(raw); err != nil {
		return Notification{}, err
	}
	n := Notification{Status: StatusSuccess}
	var err error
	if n.Message, err = text(raw, "message", true, MaxMessage); err != nil {
		return Notification{}, err
	}
	if n.Status, err = status(raw["status"]); err != nil {
		return Notification{}, err
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"by", &n.By}, {"component_id", &n.ComponentID}, {"component_type", &n.ComponentType}} {
		if *f.dst, err = text(raw, f.key, false, MaxName); err != nil {
			return Notification{}, err
		}
	}
	if v := raw["details"]; !isNull(v) {
		if n.Details, err = event.CompactObject(v); err != nil {
			return Notification{}, errors.New("details: want a JSON object")
		}
		var keys map[string]json.RawMessage
		if json.Unmarshal(n.Details, &keys) == nil && keys["ts_display"] != nil {
			return Notification{}, errors.New("details: ts_display is set at the top level, not in details")
		}
	}
	if v := raw["ts_display"]; !isNull(v) {
		if err := json.Unmarshal(v, &n.TSDisplay); err != nil || n.TSDisplay < 0 {
			return Notification{}, fmt.Errorf("ts_display: %s: want a Unix time in milliseconds", short(string(v)))
		}
	}
	return n, nil
}

func unknownKeys(raw map[string]json.RawMessage) error {
	var unknown []string
	for k := range raw {
		if !slices.Contains(fields, k) {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	s := ""
	if len(unknown) > 1 {
		s = "s"
	}
	return fmt.Errorf("unknown field%s %s: want %s", s, strings.Join(unknown, ", "), strings.Join(fields, ", "))
}

// text reads the string field key: not empty when present, at most max
// bytes (json.Unmarshal has made it valid UTF-8); null is absent.
func text(raw map[string]json.RawMessage, key string, required bool, max int) (string, error) {
	v := raw[key]
	if isNull(v) {
		if required {
			return "", fmt.Errorf("%s: required", key)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s: want a string", key)
	}
	switch {
	case s == "":
		return "", fmt.Errorf("%s: must not be empty", key)
	case len(s) > max:
		return "", fmt.Errorf("%s: %d bytes: at most %d", key, len(s), max)
	}
	return s, nil
}

func status(v json.RawMessage) (string, error) {
	if isNull(v) {
		return StatusSuccess, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil || (s != StatusSuccess && s != StatusError) {
		return "", fmt.Errorf("status: %s: want \"success\" or \"error\"", short(string(v)))
	}
	return s, nil
}

// Event is the notification as an event of type notification, without
// id, time, service, host or address.
func (n Notification) Event() *event.Event {
	outcome := event.OutcomeSuccess
	if n.Status == StatusError {
		outcome = event.OutcomeFailure
	}
	e := &event.Event{
		Type:     event.TypeNotification,
		Level:    event.LevelFor(outcome),
		Outcome:  outcome,
		Creds:    event.Creds{Name: n.By, Type: identity.TypeApp},
		Message:  n.Message,
		Resource: event.Resource{Type: n.ComponentType, ID: n.ComponentID},
		Details:  n.Details,
	}
	if n.TSDisplay > 0 {
		// Kept in details, first: {"ts_display":N, …the app's details}.
		d := (&event.Details{}).Int("ts_display", n.TSDisplay).Object()
		if len(n.Details) > 2 {
			d = append(d[:len(d)-1], ',')
			d = append(d, n.Details[1:]...)
		}
		e.Details = d
	}
	return e
}

func isNull(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

// short cuts what a client sent to a length fit for an error message.
func short(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
