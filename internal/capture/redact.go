package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/trailcar/trailcar/internal/event"
)

// Redacted replaces the value of every redacted key.
const Redacted = "REDACTED"

// Fields are the keys whose values are redacted (redact_fields): JSON
// object keys at any depth and form fields, compared in any case. The zero
// value, or nil, redacts nothing.
type Fields struct {
	names []string
}

// NewFields returns the redaction of names.
func NewFields(names []string) *Fields {
	return &Fields{names: append([]string(nil), names...)}
}

// Has reports whether key is one whose value is redacted.
func (f *Fields) Has(key string) bool {
	if f == nil {
		return false
	}
	for _, n := range f.names {
		if strings.EqualFold(n, key) {
			return true
		}
	}
	return false
}

// Object returns the JSON value obj compact, with the redacted keys'
// values REDACTED (res.client_details), or an error if obj is not one
// JSON value.
func (f *Fields) Object(obj []byte) ([]byte, error) {
	out, err := f.redactJSON(obj, true, -1)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errNotJSON is a body that is not one JSON value.
var errNotJSON = errors.New("not one JSON value")

// redactJSON writes the JSON in raw compact, with redacted keys' values
// REDACTED, until it has written more than limit bytes (no limit when
// negative). raw may be a prefix of the value when complete is false: what
// could be read of it is written (a redacted key is REDACTED as soon as it
// is seen, so a value cut off is never half written). An error says raw,
// being complete, is not one JSON value.
func (f *Fields) redactJSON(raw []byte, complete bool, limit int) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	w := jsonWriter{out: make([]byte, 0, min(len(raw)+16, max(limit+1, 64)))}
	for limit < 0 || len(w.out) <= limit {
		tok, err := dec.Token()
		switch {
		case err == io.EOF && w.values == 1 && len(w.stack) == 0:
			return w.out, nil
		case err != nil:
			if complete {
				return w.out, errNotJSON
			}
			return w.out, nil // the cut: keep what was read
		case len(w.stack) == 0 && w.values == 1:
			return w.out, errNotJSON // a second value
		}
		if key, ok := tok.(string); ok && w.expectingKey() {
			w.key(key)
			if f.Has(key) {
				w.scalar(event.AppendString(nil, Redacted))
				if err := skipValue(dec); err != nil {
					if complete {
						return w.out, errNotJSON
					}
					return w.out, nil
				}
			}
			continue
		}
		w.token(tok)
	}
	return w.out, nil
}

// skipValue reads the tokens of one value.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// jsonWriter writes tokens back as compact JSON.
type jsonWriter struct {
	out    []byte
	stack  []frame
	values int // values written at the top level
}

type frame struct {
	object  bool
	members int  // members (or elements) written
	keyed   bool // in an object, a key was written and its value is due
}

func (w *jsonWriter) expectingKey() bool {
	n := len(w.stack)
	return n > 0 && w.stack[n-1].object && !w.stack[n-1].keyed
}

func (w *jsonWriter) key(k string) {
	top := &w.stack[len(w.stack)-1]
	if top.members > 0 {
		w.out = append(w.out, ',')
	}
	w.out = event.AppendString(w.out, k)
	w.out = append(w.out, ':')
	top.keyed = true
}

// beforeValue writes the comma an array element needs.
func (w *jsonWriter) beforeValue() {
	if n := len(w.stack); n > 0 && !w.stack[n-1].object && w.stack[n-1].members > 0 {
		w.out = append(w.out, ',')
	}
}

// afterValue counts a finished value in its container.
func (w *jsonWriter) afterValue() {
	n := len(w.stack)
	if n == 0 {
		w.values++
		return
	}
	w.stack[n-1].members++
	w.stack[n-1].keyed = false
}

func (w *jsonWriter) scalar(b []byte) {
	w.beforeValue()
	w.out = append(w.out, b...)
	w.afterValue()
}

func (w *jsonWriter) token(tok json.Token) {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{', '[':
			w.beforeValue()
			w.out = append(w.out, byte(v))
			w.stack = append(w.stack, frame{object: v == '{'})
		default:
			w.out = append(w.out, byte(v))
			w.stack = w.stack[:len(w.stack)-1]
			w.afterValue()
		}
	case string:
		w.scalar(event.AppendString(nil, v))
	case json.Number:
		w.scalar([]byte(v))
	case bool:
		if v {
			w.scalar([]byte("true"))
		} else {
			w.scalar([]byte("false"))
		}
	case nil:
		w.scalar([]byte("null"))
	}
}
