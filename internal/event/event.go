// Package event defines the audit event: its fields, its one-line JSON
// encoding, its identifiers and the filters used to query it.
//
// An event is written as one UTF-8 JSON object per line, fields in a fixed
// order (docs/events.md "One event, one line"). The encoder is hand-written so that the hot path
// (one event per proxied request) appends into a reused buffer without
// allocating, and so that the fixed-width eventTime can be stamped in place
// (see TimeOffset) at the moment the event is queued.
package event

import (
	"encoding/json"
	"time"
)

// Types of events.
const (
	TypeHTTP         = "http"
	TypeClient       = "client"
	TypeNotification = "notification"
	// System events are "system.<area>.<what>".
	TypeSystemPrefix = "system."
)

// Levels.
const (
	LevelInfo  = "info"
	LevelError = "error"
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Unknown is written for creds fields that are not known.
const Unknown = "-"

// Event is one audit record. The zero value of an optional field (a nested
// struct whose fields are all zero included) means "absent": it is not
// written. Nested structs are values, not pointers, so that building an
// event allocates nothing beyond its strings.
type Event struct {
	ID      string    `json:"id"`        // 32 lowercase hex (NewID)
	Time    time.Time `json:"eventTime"` // when the response completed, UTC
	Type    string    `json:"type"`
	Level   string    `json:"level"`
	Service string    `json:"service"`
	Host    string    `json:"host"`
	Outcome string    `json:"outcome"`

	Action     string   `json:"action,omitempty"`
	Creds      Creds    `json:"creds"`
	Address    string   `json:"address,omitempty"`
	Req        Request  `json:"req"`
	Res        Response `json:"res"`
	DurationMS float64  `json:"duration_ms,omitempty"`
	Message    string   `json:"message,omitempty"`
	Resource   Resource `json:"resource"`
	// Details is a JSON object, already valid and compact; it is copied as is.
	Details json.RawMessage `json:"details,omitempty"`
}

// Creds says who made the request. All three keys are always written;
// unknown values are "-".
type Creds struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Request is what was asked. Query is only set when log_query is on, and
// then already redacted.
type Request struct {
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Query  string `json:"query,omitempty"`
	// UserAgent is the client's User-Agent, cut to MaxUserAgent bytes.
	UserAgent string `json:"user_agent,omitempty"`
	// TraceID is the trace id (32 lowercase hex) of a valid W3C
	// traceparent header: how the event joins the app's traces and logs.
	TraceID string `json:"trace_id,omitempty"`
	// Bytes is what the client sent after the head or the 101, on the
	// final event of a long-running answer.
	Bytes int64 `json:"bytes,omitempty"`
	// Body is the request body a capture rule kept: a JSON value, valid
	// and compact (a redacted JSON or form body, or a string).
	Body json.RawMessage `json:"body,omitempty"`
	// BodyTruncated says Body holds only the first max_bytes of it.
	BodyTruncated bool `json:"body_truncated,omitempty"`
}

// MaxUserAgent bounds req.user_agent, in bytes.
const MaxUserAgent = 512

// Response is what was answered. Bytes counts the response body bytes sent
// to the client.
type Response struct {
	StatusCode int   `json:"statusCode,omitempty"`
	Bytes      int64 `json:"bytes,omitempty"`
	// ClientDetails is a JSON object, already valid and compact.
	ClientDetails json.RawMessage `json:"client_details,omitempty"`
	// Body and BodyTruncated are as Request's, for the response body.
	Body          json.RawMessage `json:"body,omitempty"`
	BodyTruncated bool            `json:"body_truncated,omitempty"`
}

// Resource names the object the event is about.
type Resource struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}

// OutcomeOf returns the outcome for an HTTP status: success below 400
// (a status below 100 is no answer: a failure).
func OutcomeOf(status int) string {
	if status >= 100 && status < 400 {
		return OutcomeSuccess
	}
	return OutcomeFailure
}

// LevelFor is the level of an event with this outcome unless a rule or
// the upstream says otherwise: error for a failure, else info.
func LevelFor(outcome string) string {
	if outcome == OutcomeFailure {
		return LevelError
	}
	return LevelInfo
}

// NewSystem returns a system event of type typ (system.<area>.<what>). Its
// outcome follows its level: failure for error.
func NewSystem(typ, level, message string, details []byte) *Event {
	outcome := OutcomeSuccess
	if level == LevelError {
		outcome = OutcomeFailure
	}
	return &Event{Type: typ, Level: level, Outcome: outcome, Message: message, Details: details}
}

// IsSystem reports whether t is a system event type.
func IsSystem(t string) bool {
	return len(t) > len(TypeSystemPrefix) && t[:len(TypeSystemPrefix)] == TypeSystemPrefix
}
