// Package capture turns the first bytes of a request or response body,
// kept by a capture rule, into the value of an event's req.body or res.body
// (docs/events.md "Bodies"): JSON and form bodies redacted and kept as
// JSON, other text as a string, anything else as "<N bytes of TYPE>".
//
// It works on what the proxy kept of a body, never on the body itself: the
// proxy streams every body as it comes and copies a bounded prefix on the
// side (proxy/capture.go).
package capture
