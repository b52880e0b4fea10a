package rules

import (
	"errors"
	"path"
	"strings"

	"github.com/gobwas/glob"
)

var (
	errNoLeadingSlash = errors.New(`must start with "/"`)
	errTrailingSlash  = errors.New(`never matches: paths are matched cleaned, without a trailing "/"`)
)

// pattern is a path glob: gobwas/glob with '/' as the separator, so `*` stays
// within a segment and `**` crosses segments. Without the globstar option,
// `/x/**` requires the slash and does not match `/x`; `/x{,/**}` matches both.
type pattern struct {
	glob *glob.Pattern
	// literal is the pattern's text up to its first meta character, which
	// every matching path starts with: checking it first spares most
	// patterns the matcher's walk (SPEC's default policy has 9 patterns,
	// and most requests fail most of them at the first bytes).
	literal string
}

// compilePattern compiles a path glob. A pattern must start with "/", as
// paths do, and may not end with one, as cleaned paths do not (but for the
// root): such a pattern would silently never match.
func compilePattern(s string) (pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return pattern{}, errNoLeadingSlash
	}
	if len(s) > 1 && strings.HasSuffix(s, "/") {
		return pattern{}, errTrailingSlash
	}
	g, err := glob.Compile(s, '/')
	if err != nil {
		return pattern{}, err
	}
	literal := s
	if i := strings.IndexAny(s, `*?[]{},\`); i >= 0 {
		literal = s[:i]
	}
	return pattern{glob: g, literal: literal}, nil
}

// match reports whether the cleaned path p matches the pattern.
func (g pattern) match(p string) bool {
	return strings.HasPrefix(p, g.literal) && g.glob.Match(p)
}

// patternList is a list of globs matched as one: a path matches the list when
// it matches any of them.
type patternList []pattern

// compilePatterns compiles the globs of the config key, e.g. "ignore_routes".
func compilePatterns(key string, globs []string) (patternList, error) {
	list := make(patternList, len(globs))
	for i, s := range globs {
		p, err := compilePattern(s)
		if err != nil {
			return nil, &FieldError{Key: indexKey(key, i), Value: s, Err: err}
		}
		list[i] = p
	}
	return list, nil
}

// match reports whether the cleaned path p matches any pattern of the list.
func (l patternList) match(p string) bool {
	for _, g := range l {
		if g.match(p) {
			return true
		}
	}
	return false
}

// cleanPath returns the path the patterns are matched against: p as
// path.Clean would have it, rooted, "/" when empty. A request for
// /api/v3/proxy/../components is one for /api/v3/components, and must be
// judged as such. An already clean path, the common case, is returned as is,
// without allocating.
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
