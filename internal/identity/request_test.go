package identity_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/identity"
)

func TestTraceID(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name, header, want string
	}{
		{"valid", "00-" + id + "-00f067aa0ba902b7-01", id},
		{"a later version with more fields", "01-" + id + "-00f067aa0ba902b7-01-whatever", id},
		{"version 00 with more", "00-" + id + "-00f067aa0ba902b7-01-x", ""},
		{"version ff", "ff-" + id + "-00f067aa0ba902b7-01", ""},
		{"uppercase", "00-" + strings.ToUpper(id) + "-00f067aa0ba902b7-01", ""},
		{"zero trace id", "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01", ""},
		{"zero parent id", "00-" + id + "-0000000000000000-01", ""},
		{"short", "00-" + id[:31] + "-00f067aa0ba902b7-01", ""},
		{"not hex", "00-" + id[:31] + "g-00f067aa0ba902b7-01", ""},
		{"no dashes", "00_" + id + "_00f067aa0ba902b7_01", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := identity.TraceID(http.Header{"Traceparent": {tt.header}}); got != tt.want {
				t.Errorf("TraceID(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
	two := http.Header{"Traceparent": {"00-" + id + "-00f067aa0ba902b7-01", "00-" + id + "-00f067aa0ba902b7-01"}}
	if got := identity.TraceID(two); got != "" {
		t.Errorf("two traceparent headers gave %q, want none", got)
	}
}

func TestUserAgentIsBounded(t *testing.T) {
	if got := identity.UserAgent(http.Header{"User-Agent": {"curl/8.5.0"}}); got != "curl/8.5.0" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("a", event.MaxUserAgent-1) + "é" + strings.Repeat("b", 100)
	got := identity.UserAgent(http.Header{"User-Agent": {long}})
	if len(got) > event.MaxUserAgent || !utf8.ValidString(got) || len(got) != event.MaxUserAgent-1 {
		t.Errorf("a %d-byte agent kept as %d bytes (valid UTF-8 %v)", len(long), len(got), utf8.ValidString(got))
	}
	if got := identity.UserAgent(http.Header{}); got != "" {
		t.Errorf("no agent gave %q", got)
	}
}
