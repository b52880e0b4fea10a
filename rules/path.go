package rules

import (
	"path"
	"strings"
)

// maxMatchedPath is the length beyond which a path is not matched against
// the patterns at all: it is then never ignored and always tracked, with the
// template's action. Matching is a backtracking walk whose time may grow with
// the square of the length of the path (see internal/glob), which clients
// choose. Real paths are far shorter than 4 KiB, so only a probe gets there,
// and a probe is worth an event.
const maxMatchedPath = 4 << 10

// requestPath is a request's path in the two forms it is matched in.
//
// The upstream may or may not clean a path before routing it: Go's ServeMux
// does, Express routes the path as sent. The forms are combined to track the
// most either reading would: a path is ignored when both forms match
// ignore_routes, and in track.always when either form matches. So neither
// /api/v3/proxy/../components (components, to an upstream that cleans) nor
// /api/v3/components/../proxy/x (a components route, to one that does not)
// can pass for the ignored /api/v3/proxy/** routes.
type requestPath struct {
	raw   string
	clean string // cleanPath(raw); the very same string when raw is clean
}

func newRequestPath(raw string) requestPath {
	return requestPath{raw: raw, clean: cleanPath(raw)}
}

// tooLong tells that the path is longer than maxMatchedPath. The clean form
// is at most one byte longer than the raw one, the "/" cleanPath may add.
func (p requestPath) tooLong() bool {
	return len(p.raw) > maxMatchedPath
}

// lowered is the path in lower case, for the case-insensitive lists. It
// allocates only when the path has upper-case letters.
func (p requestPath) lowered() requestPath {
	return requestPath{raw: strings.ToLower(p.raw), clean: strings.ToLower(p.clean)}
}

// matchAll reports whether both forms match l.
func (p requestPath) matchAll(l patternList) bool {
	return l.match(p.clean) && (p.raw == p.clean || l.match(p.raw))
}

// matchAny reports whether either form matches l.
func (p requestPath) matchAny(l patternList) bool {
	return l.match(p.clean) || (p.raw != p.clean && l.match(p.raw))
}

// Canonical reports whether sent, a path as the client sent it (escaped),
// is in the one form every app reads the same way. A path that holds ";"
// (Tomcat and Spring drop "..;" and other path parameters), "\" (some
// servers read it as "/"), a percent-encoded ".", "/", "\" or "%" (an app
// that decodes twice, or after routing, sees another path), or a ".", ".."
// or empty segment is not: the app may resolve it to any route, so the
// rules never take it for an ignored one.
func Canonical(sent string) bool {
	if !isClean(sent) || strings.ContainsAny(sent, ";\\") {
		return false
	}
	for i := strings.IndexByte(sent, '%'); i >= 0; {
		if i+2 < len(sent) {
			switch strings.ToLower(sent[i+1 : i+3]) {
			case "2e", "2f", "5c", "25":
				return false
			}
		}
		j := strings.IndexByte(sent[i+1:], '%')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return true
}

// cleanPath returns p as path.Clean would have it ("//" collapsed, "." and
// ".." resolved, no trailing "/"), rooted, "/" when empty. An already clean
// path, the common case, is returned as is, without allocating.
func cleanPath(p string) string {
	if isClean(p) {
		return p
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// isClean reports whether path.Clean would return p unchanged and p is
// rooted: it starts with "/" and, unless it is "/", no segment is empty, "."
// or "..", which also excludes a trailing "/".
func isClean(p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(p, "/") {
		return false
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		switch p[start:i] {
		case "", ".", "..":
			return false
		}
		start = i + 1
	}
	return true
}
