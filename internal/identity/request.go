package identity

import (
	"net/http"
	"unicode/utf8"

	"github.com/trailcar/trailcar/internal/event"
)

// UserAgent is the request's User-Agent as req.user_agent keeps it: cut to
// event.MaxUserAgent bytes, at a character's start. (The encoder repairs
// invalid UTF-8 and escapes the rest.)
func UserAgent(h http.Header) string {
	v := h["User-Agent"]
	if len(v) == 0 {
		return ""
	}
	ua := v[0]
	if len(ua) > event.MaxUserAgent {
		cut := event.MaxUserAgent
		for cut > 0 && !utf8.RuneStart(ua[cut]) {
			cut--
		}
		ua = ua[:cut]
	}
	return ua
}

// TraceID is the trace id of the request's W3C traceparent header
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"), or "" when it
// has none or it is not valid: lowercase hex, a version other than ff, ids
// not all zeros, and for version 00 nothing after the flags.
func TraceID(h http.Header) string {
	v := h["Traceparent"]
	if len(v) != 1 {
		return "" // none, or several: the W3C rule is to ignore them
	}
	tp := v[0]
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' ||
		!lowerHex(tp[0:2]) || tp[0:2] == "ff" || !lowerHex(tp[3:35]) || !lowerHex(tp[36:52]) || !lowerHex(tp[53:55]) ||
		allZeros(tp[3:35]) || allZeros(tp[36:52]) {
		return ""
	}
	if len(tp) > 55 && (tp[0:2] == "00" || tp[55] != '-') {
		return ""
	}
	return tp[3:35]
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
