package event

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLen is the length of an encoded eventTime: 2006-01-02T15:04:05.000000Z.
const TimeLen = 27

// IDLen is the length of an event id: 32 lowercase hex digits.
const IDLen = 32

// TimeOffset is where the eventTime value starts in an encoded line. It is
// fixed because every line starts with {"id":"<32 hex>","eventTime":" and the
// time is fixed-width, so a queued line can be stamped in place (StampTime).
const TimeOffset = len(`{"id":"`) + IDLen + len(`","eventTime":"`)

// ErrBadID is returned by AppendJSON for an id that is not 32 lowercase hex.
var ErrBadID = errors.New("event id must be 32 lowercase hex digits")

// AppendJSON appends e as one JSON line, newline included, to buf.
// It fails only when e.ID is not a valid id (the line layout depends on it).
func AppendJSON(buf []byte, e *Event) ([]byte, error) {
	if !ValidID(e.ID) {
		return buf, ErrBadID
	}
	buf = append(buf, `{"id":"`...)
	buf = append(buf, e.ID...)
	buf = append(buf, `","eventTime":"`...)
	buf = AppendTime(buf, e.Time)
	buf = appendChained(buf, "type", e.Type)
	buf = appendChained(buf, "level", e.Level)
	buf = appendChained(buf, "service", e.Service)
	buf = appendChained(buf, "host", e.Host)
	buf = appendChained(buf, "outcome", e.Outcome)
	buf = append(buf, '"')
	if e.Action != "" {
		buf = appendKV(buf, "action", e.Action)
	}
	if e.Creds != (Creds{}) {
		buf = append(buf, `,"creds":{"uuid":`...)
		buf = appendString(buf, OrUnknown(e.Creds.UUID))
		buf = append(buf, `,"name":`...)
		buf = appendString(buf, OrUnknown(e.Creds.Name))
		buf = append(buf, `,"type":`...)
		buf = appendString(buf, OrUnknown(e.Creds.Type))
		buf = append(buf, '}')
	}
	if e.Address != "" {
		buf = appendKV(buf, "address", e.Address)
	}
	if !e.Req.empty() {
		buf = appendRequest(buf, &e.Req)
	}
	if e.Res.StatusCode != 0 || e.Res.Bytes != 0 || len(e.Res.ClientDetails) > 0 || len(e.Res.Body) > 0 {
		buf = appendResponse(buf, &e.Res)
	}
	if e.DurationMS != 0 {
		buf = append(buf, `,"duration_ms":`...)
		buf = strconv.AppendFloat(buf, e.DurationMS, 'f', 3, 64)
	}
	if e.Message != "" {
		buf = appendKV(buf, "message", e.Message)
	}
	if e.Resource != (Resource{}) {
		buf = append(buf, `,"resource":{`...)
		sep := byte(0)
		if e.Resource.Type != "" {
			buf = append(buf, `"type":`...)
			buf = appendString(buf, e.Resource.Type)
			sep = ','
		}
		if e.Resource.ID != "" {
			if sep != 0 {
				buf = append(buf, sep)
			}
			buf = append(buf, `"id":`...)
			buf = appendString(buf, e.Resource.ID)
		}
		buf = append(buf, '}')
	}
	if len(e.Details) > 0 {
		buf = append(buf, `,"details":`...)
		buf = append(buf, e.Details...)
	}
	return append(buf, '}', '\n'), nil
}

// appendChained appends ","name":"value: it closes the previous string
// value and opens this one, which the caller closes. Only the first seven
// fields, which are always present, are chained this way.
func appendChained(buf []byte, name, value string) []byte {
	buf = append(buf, `","`...)
	buf = append(buf, name...)
	buf = append(buf, `":"`...)
	return appendEscaped(buf, value)
}

// appendKV appends ,"name":"value" for an optional string field.
func appendKV(buf []byte, name, value string) []byte {
	buf = append(buf, ',', '"')
	buf = append(buf, name...)
	buf = append(buf, '"', ':')
	return appendString(buf, value)
}

func appendRequest(buf []byte, r *Request) []byte {
	buf = append(buf, `,"req":{`...)
	n := len(buf)
	if r.Method != "" {
		buf = append(buf, `"method":`...)
		buf = appendString(buf, r.Method)
	}
	if r.Path != "" {
		if len(buf) > n {
			buf = append(buf, ',')
		}
		buf = append(buf, `"path":`...)
		buf = appendString(buf, r.Path)
	}
	if r.Query != "" {
		if len(buf) > n {
			buf = append(buf, ',')
		}
		buf = append(buf, `"query":`...)
		buf = appendString(buf, r.Query)
	}
	if r.UserAgent != "" {
		if len(buf) > n {
			buf = append(buf, ',')
		}
		buf = append(buf, `"user_agent":`...)
		buf = appendString(buf, r.UserAgent)
	}
	if r.TraceID != "" {
		if len(buf) > n {
			buf = append(buf, ',')
		}
		buf = append(buf, `"trace_id":`...)
		buf = appendString(buf, r.TraceID)
	}
	if r.Bytes != 0 {
		if len(buf) > n {
			buf = append(buf, ',')
		}
		buf = append(buf, `"bytes":`...)
		buf = strconv.AppendInt(buf, r.Bytes, 10)
	}
	return append(appendBody(buf, len(buf) > n, r.Body, r.BodyTruncated), '}')
}

func (r *Request) empty() bool {
	return r.Method == "" && r.Path == "" && r.Query == "" && r.UserAgent == "" && r.TraceID == "" &&
		r.Bytes == 0 && len(r.Body) == 0
}

// appendBody appends a captured body and, when it is cut, body_truncated;
// comma says a member came before.
func appendBody(buf []byte, comma bool, body []byte, truncated bool) []byte {
	if len(body) == 0 {
		return buf
	}
	if comma {
		buf = append(buf, ',')
	}
	buf = append(buf, `"body":`...)
	buf = append(buf, body...)
	if truncated {
		buf = append(buf, `,"body_truncated":true`...)
	}
	return buf
}

func appendResponse(buf []byte, r *Response) []byte {
	buf = append(buf, `,"res":{`...)
	n := len(buf)
	if r.StatusCode != 0 {
		buf = append(buf, `"statusCode":`...)
		buf = strconv.AppendInt(buf, int64(r.StatusCode), 10)
	}
	if r.Bytes != 0 || r.StatusCode != 0 {
		if len(buf) > n {
			buf = append(buf, ',')
		}
		buf = append(buf, `"bytes":`...)
		buf = strconv.AppendInt(buf, r.Bytes, 10)
	}
	if len(r.ClientDetails) > 0 {
		if len(buf) > n {
			buf = append(buf, ',')
		}
		buf = append(buf, `"client_details":`...)
		buf = append(buf, r.ClientDetails...)
	}
	return append(appendBody(buf, len(buf) > n, r.Body, r.BodyTruncated), '}')
}

// OrUnknown is s, or Unknown ("-") when s is empty: how an unknown creds
// field is written.
func OrUnknown(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// AppendString appends s as a quoted JSON string, as every string of a
// line is written: for a value built elsewhere, such as a captured body.
func AppendString(buf []byte, s string) []byte { return appendString(buf, s) }

// appendString appends s as a quoted JSON string.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	buf = appendEscaped(buf, s)
	return append(buf, '"')
}

const hex = "0123456789abcdef"

// safe[b] is true for ASCII bytes that need no escaping inside a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendEscaped appends s escaped for a JSON string (without quotes).
// Control characters are escaped, invalid UTF-8 becomes U+FFFD, and U+2028
// and U+2029 are escaped so the line is also safe to embed in JavaScript.
// A newline can therefore never appear raw inside a line.
func appendEscaped(buf []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(buf, s[start:]...)
}

// AppendTime appends t in UTC as 2006-01-02T15:04:05.000000Z (always TimeLen
// bytes for years 0000–9999), so that the text order of times is their order.
func AppendTime(buf []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		year = 0
	}
	buf = append(buf,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.')
	us := t.Nanosecond() / 1000
	for d := 100000; d > 0; d /= 10 {
		buf = append(buf, byte('0'+us/d%10))
	}
	return append(buf, 'Z')
}

// FormatTime returns t as AppendTime writes it.
func FormatTime(t time.Time) string {
	return string(AppendTime(make([]byte, 0, TimeLen), t))
}

// StampTime overwrites the eventTime of an encoded line (as produced by
// AppendJSON) with t, in place.
func StampTime(line []byte, t time.Time) {
	AppendTime(line[TimeOffset:TimeOffset], t)
}

// MarshalJSON encodes e as AppendJSON does, without the trailing newline.
func (e *Event) MarshalJSON() ([]byte, error) {
	b, err := AppendJSON(nil, e)
	if err != nil {
		return nil, err
	}
	return b[:len(b)-1], nil
}
