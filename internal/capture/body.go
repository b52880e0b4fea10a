package capture

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trailcar/trailcar/internal/event"
)

// Kept is what the proxy kept of one body.
type Kept struct {
	// Head is the body's first bytes, as sent (still encoded).
	Head []byte
	// Size is the whole body's size as sent, -1 when unknown (a request
	// body sent chunked whose end was not read).
	Size int64
	// ContentType and ContentEncoding are the body's headers.
	ContentType, ContentEncoding string
}

// complete reports whether Head is the whole body.
func (k *Kept) complete() bool { return k.Size >= 0 && int64(len(k.Head)) == k.Size }

// HeadBytes is how much of a body the proxy keeps for a rule's max_bytes:
// twice it, so that a body whose redaction or compaction makes it shorter
// (a long secret becoming REDACTED, pretty-printed JSON) still fills
// max_bytes.
func HeadBytes(maxBytes int) int { return 2 * maxBytes }

// Body is the value of req.body or res.body for k, at most maxBytes of it
// (docs/events.md "Bodies"), and whether it was cut: a JSON or form body
// redacted and kept as JSON, or, when its redacted encoding is longer than
// maxBytes, as a string of that encoding's first maxBytes bytes; other text
// as a string; anything else as "<N bytes of TYPE>". A gzip or deflate body
// is decoded first, within the bound. nil: no body.
func (f *Fields) Body(k Kept, maxBytes int) (value []byte, truncated bool) {
	if k.Size == 0 || k.Size < 0 && len(k.Head) == 0 {
		return nil, false
	}
	media, _, _ := mime.ParseMediaType(k.ContentType)
	media = strings.ToLower(media)
	text, complete, ok := decode(k, HeadBytes(maxBytes))
	if !ok {
		return placeholder(k, media, strings.ToLower(k.ContentEncoding)), false
	}
	if media == "" {
		media = sniff(text)
	}
	switch kind(media) {
	case kindJSON:
		return f.jsonBody(text, complete, maxBytes, k, media)
	case kindForm:
		return keep(f.formBody(text), complete, maxBytes)
	case kindText:
		if !isText(text, complete) {
			return placeholder(k, media, ""), false
		}
		if !complete || len(text) > maxBytes {
			return event.AppendString(nil, string(text[:min(len(text), maxBytes)])), true
		}
		return event.AppendString(nil, string(text)), false
	}
	return placeholder(k, media, ""), false
}

// jsonBody redacts a JSON body; one that is not JSON (whole, yet no JSON
// value) is kept as a placeholder, since what in it is a secret cannot be
// told.
func (f *Fields) jsonBody(text []byte, complete bool, maxBytes int, k Kept, media string) ([]byte, bool) {
	out, err := f.redactJSON(text, complete, maxBytes)
	if err != nil {
		return event.AppendString(nil, "<"+sizeText(k)+" of "+media[:min(len(media), 64)]+", not valid JSON>"), false
	}
	return keep(out, complete, maxBytes)
}

// keep is a redacted encoding as the event holds it: itself when whole and
// within maxBytes, else a string of its first maxBytes bytes.
func keep(encoded []byte, complete bool, maxBytes int) ([]byte, bool) {
	if complete && len(encoded) <= maxBytes {
		return encoded, false
	}
	return event.AppendString(nil, string(encoded[:min(len(encoded), maxBytes)])), true
}

// decode undoes the body's Content-Encoding, decoding at most limit bytes
// (a small compressed head cannot make a large text). ok is false for an
// encoding not decoded here (br, zstd…) or a head that does not decode.
func decode(k Kept, limit int) (text []byte, complete, ok bool) {
	enc := strings.ToLower(strings.TrimSpace(k.ContentEncoding))
	if enc == "" || enc == "identity" {
		return k.Head, k.complete(), true
	}
	var r io.Reader
	var err error
	switch enc {
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(k.Head))
	case "deflate":
		// HTTP's deflate is zlib-wrapped; some servers send it raw.
		if r, err = zlib.NewReader(bytes.NewReader(k.Head)); err != nil {
			r, err = flate.NewReader(bytes.NewReader(k.Head)), nil
		}
	default:
		return nil, false, false
	}
	if err != nil {
		return nil, false, false
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)))
	switch {
	case err == nil && k.complete():
		// Decoded to its end, unless the limit stopped it.
		var probe [1]byte
		n, _ := r.Read(probe[:])
		return out, n == 0, true
	case len(out) == 0:
		return nil, false, false
	}
	return out, false, true // cut: what could be decoded
}

type bodyKind int

const (
	kindOther bodyKind = iota
	kindJSON
	kindForm
	kindText
)

func kind(media string) bodyKind {
	switch {
	case media == "application/json" || strings.HasSuffix(media, "+json"):
		return kindJSON
	case media == "application/x-www-form-urlencoded":
		return kindForm
	case strings.HasPrefix(media, "text/"), strings.HasSuffix(media, "+xml"), strings.HasSuffix(media, "+yaml"):
		return kindText
	}
	switch media {
	case "application/xml", "application/javascript", "application/ecmascript", "application/yaml",
		"application/x-yaml", "application/graphql", "application/x-ndjson", "application/jsonl",
		"application/sql", "application/csv":
		return kindText
	}
	return kindOther
}

// sniff names the type of a body sent without Content-Type: JSON when it
// opens as an object or array does (so that it is redacted), else what
// net/http's sniffing says.
func sniff(text []byte) string {
	if t := bytes.TrimLeft(text, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return "application/json"
	}
	media, _, _ := mime.ParseMediaType(http.DetectContentType(text))
	return media
}

// isText reports whether b reads as text: UTF-8 (but for a rune the cut
// split) without control characters beyond tab, line feed and carriage
// return. (Each of those is escaped in two bytes: a kept text is at most
// twice max_bytes in the line.)
func isText(b []byte, complete bool) bool {
	if !complete {
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// placeholder is "<N bytes of TYPE>" (the encoding named when it was not
// decoded).
func placeholder(k Kept, media, encoding string) []byte {
	if media == "" {
		media = "unknown type"
	}
	media, encoding = media[:min(len(media), 64)], encoding[:min(len(encoding), 16)] // the client's words: bounded
	s := "<" + sizeText(k) + " of " + media
	if encoding != "" {
		s += " (" + encoding + ")"
	}
	return event.AppendString(nil, s+">")
}

func sizeText(k Kept) string {
	if k.Size < 0 {
		return "more than " + strconv.Itoa(len(k.Head)) + " bytes"
	}
	return strconv.FormatInt(k.Size, 10) + " bytes"
}

// formBody is an application/x-www-form-urlencoded body as a JSON object
// of its fields, redacted: a field sent once is a string, one sent more
// than once an array of its values, in the order first sent.
func (f *Fields) formBody(text []byte) []byte {
	var names []string
	values := map[string][]string{}
	for _, pair := range strings.Split(string(text), "&") {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, value = unescape(name), unescape(value)
		if f.Has(name) {
			value = Redacted
		}
		if _, seen := values[name]; !seen {
			names = append(names, name)
		}
		values[name] = append(values[name], value)
	}
	out := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			out = append(out, ',')
		}
		out = event.AppendString(out, name)
		out = append(out, ':')
		vs := values[name]
		if len(vs) == 1 {
			out = event.AppendString(out, vs[0])
			continue
		}
		out = append(out, '[')
		for j, v := range vs {
			if j > 0 {
				out = append(out, ',')
			}
			out = event.AppendString(out, v)
		}
		out = append(out, ']')
	}
	return append(out, '}')
}

// unescape is a form value decoded, or as sent when it cannot be.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
