package rules

import (
	"errors"
	"fmt"
	"strings"
)

var errEmptyService = errors.New("renders an empty action: service is empty")

// Resource returns the {resource} of a request path: the first segment after
// the leading "ak", "api" and version ("v" and digits: "v1", "v2"…) segments,
// or "root" when nothing is left. The path is cleaned first, as for matching.
//
//	/api/v3/widgets/w1            -> widgets
//	/ak/api/v1/components/status  -> components
//	/                             -> root
func Resource(path string) string {
	return resourceOf(cleanPath(path))
}

// Verb returns the {verb} of a method: GET read, POST create, PUT update,
// PATCH configure, DELETE delete, else the method in lower case. The method
// is matched case-insensitively; "" is GET, as in net/http.
func Verb(method string) string {
	switch method = normalizeMethod(method); {
	case strings.EqualFold(method, "GET"):
		return "read"
	case strings.EqualFold(method, "POST"):
		return "create"
	case strings.EqualFold(method, "PUT"):
		return "update"
	case strings.EqualFold(method, "PATCH"):
		return "configure"
	case strings.EqualFold(method, "DELETE"):
		return "delete"
	}
	return lowerMethod(method)
}

// normalizeMethod maps the empty method to GET, as net/http does.
func normalizeMethod(method string) string {
	if method == "" {
		return "GET"
	}
	return method
}

// lowerMethod returns method in lower case, without allocating for the
// methods of RFC 9110.
func lowerMethod(method string) string {
	for _, m := range [...]string{"get", "post", "put", "patch", "delete", "head", "options", "connect", "trace"} {
		if strings.EqualFold(method, m) {
			return m
		}
	}
	return asciiLower(method)
}

// asciiLower lower-cases the ASCII letters of s: methods are tokens, ASCII
// by definition, and anything else is kept as sent rather than reinterpreted.
func asciiLower(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' }) < 0 {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// resourceOf is Resource of a path already cleaned.
func resourceOf(p string) string {
	rest := strings.TrimPrefix(p, "/")
	for rest != "" {
		var segment string
		segment, rest, _ = strings.Cut(rest, "/")
		if !strings.EqualFold(segment, "ak") && !strings.EqualFold(segment, "api") && !isVersion(segment) {
			return segment
		}
	}
	return "root"
}

// isVersion reports whether segment is "v" followed by digits: "v1", "v10".
func isVersion(segment string) bool {
	if len(segment) < 2 || segment[0] != 'v' && segment[0] != 'V' {
		return false
	}
	for i := 1; i < len(segment); i++ {
		if segment[i] < '0' || segment[i] > '9' {
			return false
		}
	}
	return true
}

// lastSegment is the {segment} of a cleaned path: its last segment, "root"
// for "/".
func lastSegment(p string) string {
	if segment := p[strings.LastIndexByte(p, '/')+1:]; segment != "" {
		return segment
	}
	return "root"
}

// field is what a part of a template stands for.
type field uint8

const (
	fieldLiteral field = iota
	fieldResource
	fieldVerb
	fieldSegment
	fieldMethod
	// {service} is not a field: it is the same for every request, so it is
	// folded into the literals when the template is compiled.
)

// template is a compiled action template: literals and placeholders, with
// {service} already substituted.
type template struct {
	parts []part
	// constant tells that parts is a single literal: nothing to render.
	constant bool
	// cache holds the actions already rendered; nil when the template uses
	// {segment}, as every path would then be a key of its own.
	cache *renderCache
}

type part struct {
	field field
	text  string // the literal, when field is fieldLiteral
}

// values are what the placeholders of a template stand for, for one request.
type values struct {
	resource, verb, segment, method string
}

func (v *values) of(p part) string {
	switch p.field {
	case fieldResource:
		return v.resource
	case fieldVerb:
		return v.verb
	case fieldSegment:
		return v.segment
	case fieldMethod:
		return v.method
	}
	return p.text
}

// compileTemplate parses an action template. Every "{" must open one of the
// placeholders {service}, {resource}, {verb}, {segment} or {method}, closed by
// "}"; there is no escape, as actions are dotted names.
func compileTemplate(service, text string) (*template, error) {
	if text == "" {
		return nil, errEmpty
	}
	t := &template{}
	var literal strings.Builder
	flush := func() {
		if literal.Len() > 0 {
			t.parts = append(t.parts, part{field: fieldLiteral, text: literal.String()})
			literal.Reset()
		}
	}
	for i := 0; i < len(text); {
		switch text[i] {
		case '}':
			return nil, fmt.Errorf(`unmatched "}" at offset %d`, i)
		case '{':
			end := strings.IndexByte(text[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf(`unclosed "{" at offset %d`, i)
			}
			name := text[i+1 : i+end]
			f, err := placeholder(name)
			if err != nil {
				return nil, err
			}
			if name == "service" {
				literal.WriteString(service)
			} else {
				flush()
				t.parts = append(t.parts, part{field: f})
			}
			i += end + 1
		default:
			literal.WriteByte(text[i])
			i++
		}
	}
	flush()
	if len(t.parts) == 0 {
		return nil, errEmptyService
	}
	t.constant = len(t.parts) == 1 && t.parts[0].field == fieldLiteral
	if !t.constant && !t.uses(fieldSegment) {
		t.cache = newRenderCache()
	}
	return t, nil
}

// placeholder returns the field of a placeholder's name; {service} is
// reported as a literal, as it is substituted at compile time.
func placeholder(name string) (field, error) {
	switch name {
	case "service":
		return fieldLiteral, nil
	case "resource":
		return fieldResource, nil
	case "verb":
		return fieldVerb, nil
	case "segment":
		return fieldSegment, nil
	case "method":
		return fieldMethod, nil
	}
	return 0, fmt.Errorf("unknown placeholder {%s}: want {service}, {resource}, {verb}, {segment} or {method}", name)
}

func (t *template) uses(f field) bool {
	for _, p := range t.parts {
		if p.field == f {
			return true
		}
	}
	return false
}

// render returns the action of a request with the given method and cleaned
// path. It allocates only for an action not rendered (and cached) before.
func (t *template) render(method, p string) string {
	if t.constant {
		return t.parts[0].text
	}
	resource := resourceOf(p)
	if t.cache != nil {
		if action, ok := t.cache.get(resource, method); ok {
			return action
		}
	}
	v := values{resource: resource, verb: Verb(method), segment: lastSegment(p), method: lowerMethod(method)}
	action := t.build(&v)
	if t.cache != nil {
		t.cache.put(resource, method, action)
	}
	return action
}

// build concatenates the parts with one allocation.
func (t *template) build(v *values) string {
	n := 0
	for _, p := range t.parts {
		n += len(v.of(p))
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range t.parts {
		b.WriteString(v.of(p))
	}
	return b.String()
}
