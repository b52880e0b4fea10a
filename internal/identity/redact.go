package identity

import (
	"net/url"
	"strings"
)

// Redactor hides the values of secret query keys (redact_query) in raw
// query strings before they are logged: the proxy's req.query and the
// admin port's own audit events use the same one.
type Redactor struct {
	keys map[string]bool // lower case
}

// NewRedactor redacts the values of keys, compared in any case.
func NewRedactor(keys []string) *Redactor {
	r := &Redactor{keys: make(map[string]bool, len(keys))}
	for _, k := range keys {
		r.keys[strings.ToLower(k)] = true
	}
	return r
}

// Query replaces the values of the secret keys in a raw query with
// REDACTED, keeping the order and the rest as sent. A key is compared
// unescaped, so "%74oken" is "token" too.
func (r *Redactor) Query(raw string) string {
	var b strings.Builder
	for i, part := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		key, _, hasValue := strings.Cut(part, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if hasValue && r.keys[strings.ToLower(name)] {
			b.WriteString(key)
			b.WriteString("=REDACTED")
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}
