package rules

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// A resource template is resource_template or an actions rule's resource:
// "TYPE:ID", split at its first ":" outside a placeholder, each side made of
// literals and the placeholders {resource} (as in action_template), {id}
// (the last segment of a 201's Location, else the path segment after the
// {resource} one), {segment} (the last path segment), {segment1},
// {segment2}… (the segments after the leading ak, api and version ones:
// {segment1} is {resource}) and {location} (the last segment of a 201's
// Location). docs/events.md "Which requests become events" says which
// events get one.
type resourceTemplate struct {
	typ, id []rpart
	// fromTemplate: resource_template, whose resource is none for "/" and
	// only {"type"} when its id renders empty.
	fromTemplate bool
}

type rfield uint8

const (
	rLiteral rfield = iota
	rResource
	rID
	rSegment
	rSegmentN
	rLocation
)

type rpart struct {
	field rfield
	n     int    // for rSegmentN: 1-based
	text  string // for rLiteral
}

func compileResource(text string, fromTemplate bool) (*resourceTemplate, error) {
	t := &resourceTemplate{fromTemplate: fromTemplate}
	side := &t.typ
	var literal strings.Builder
	flush := func() {
		if literal.Len() > 0 {
			*side = append(*side, rpart{text: literal.String()})
			literal.Reset()
		}
	}
	for i := 0; i < len(text); {
		switch c := text[i]; {
		case c == '}':
			return nil, fmt.Errorf(`unmatched "}" at offset %d`, i)
		case c == '{':
			end := strings.IndexByte(text[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf(`unclosed "{" at offset %d`, i)
			}
			p, err := resourcePlaceholder(text[i+1 : i+end])
			if err != nil {
				return nil, err
			}
			flush()
			*side = append(*side, p)
			i += end + 1
		case c == ':' && side == &t.typ:
			flush()
			side = &t.id
			i++
		default:
			literal.WriteByte(c) // past the first ":", a colon is part of the id
			i++
		}
	}
	flush()
	if len(t.typ) == 0 {
		return nil, fmt.Errorf("renders no type: want TYPE or TYPE:ID")
	}
	return t, nil
}

func resourcePlaceholder(name string) (rpart, error) {
	switch name {
	case "resource":
		return rpart{field: rResource}, nil
	case "id":
		return rpart{field: rID}, nil
	case "segment":
		return rpart{field: rSegment}, nil
	case "location":
		return rpart{field: rLocation}, nil
	}
	if digits, ok := strings.CutPrefix(name, "segment"); ok {
		if n, err := strconv.Atoi(digits); err == nil && n >= 1 && n <= 32 && digits[0] != '0' {
			return rpart{field: rSegmentN, n: n}, nil
		}
	}
	return rpart{}, fmt.Errorf("unknown placeholder {%s}: want {resource}, {id}, {segment}, {segment1}, {segment2}… or {location}", name)
}

// resourceValues are what a resource template's placeholders stand for in
// one request. Every value is a piece of the path or of the Location: no
// allocation.
type resourceValues struct {
	p        string // the cleaned path
	location string // the last segment of a 201's Location, or ""
}

// segment is the path's nth segment (1-based) after the leading ak, api
// and version ones, or "".
func (v *resourceValues) segment(n int) string {
	rest, leading := strings.TrimPrefix(v.p, "/"), true
	for rest != "" {
		var s string
		s, rest, _ = strings.Cut(rest, "/")
		if leading && (strings.EqualFold(s, "ak") || strings.EqualFold(s, "api") || isVersion(s)) {
			continue
		}
		leading = false
		if s == "" {
			continue
		}
		if n--; n == 0 {
			return s
		}
	}
	return ""
}

func (v *resourceValues) of(p rpart) string {
	switch p.field {
	case rResource:
		if s := v.segment(1); s != "" {
			return s
		}
		return "root"
	case rID:
		if v.location != "" {
			return v.location
		}
		return v.segment(2)
	case rSegment:
		return lastSegment(v.p)
	case rSegmentN:
		return v.segment(p.n)
	case rLocation:
		return v.location
	}
	return p.text
}

// render returns the resource of a request; "" type: none. A side that is
// one placeholder is a piece of the path or Location, not a copy.
func (t *resourceTemplate) render(p, location string) (typ, id string) {
	if t.fromTemplate && p == "/" {
		return "", ""
	}
	v := resourceValues{p: p, location: location}
	typ, id = renderParts(t.typ, &v), renderParts(t.id, &v)
	return typ, id
}

func renderParts(parts []rpart, v *resourceValues) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return v.of(parts[0])
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(v.of(p))
	}
	return b.String()
}

// locationSegment is the last path segment of a Location header's value
// (a path or an absolute URL), unescaped; "" when it has none.
func locationSegment(loc string) string {
	if i := strings.IndexAny(loc, "?#"); i >= 0 {
		loc = loc[:i]
	}
	loc = strings.TrimRight(loc, "/")
	seg := loc[strings.LastIndexByte(loc, '/')+1:]
	if strings.Contains(loc, "://") && !strings.Contains(loc[strings.Index(loc, "://")+3:], "/") {
		return "" // a bare origin: no path
	}
	if strings.IndexByte(seg, '%') >= 0 {
		if u, err := url.PathUnescape(seg); err == nil {
			return u
		}
	}
	return seg
}
