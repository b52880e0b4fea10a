package rules

import (
	"errors"
	"strings"

	"github.com/trailcar/trailcar/internal/glob"
)

var (
	errNoLeadingSlash = errors.New(`must start with "/"`)
	errTrailingSlash  = errors.New(`never matches a cleaned path, which has no trailing "/"`)
)

// pattern is a path glob: gobwas/glob with '/' as the separator, so `*` stays
// within a segment and `**` crosses segments. Without the globstar option,
// `/x/**` requires the slash and does not match `/x`; `/x{,/**}` matches both.
type pattern struct {
	glob *glob.Pattern
	// literal is the pattern's text up to its first meta character, which
	// every matching path starts with: checking it first spares most
	// patterns the matcher's walk (the default policy has 9 patterns,
	// and most requests fail most of them at the first bytes).
	literal string
}

// compilePattern compiles a path glob. A pattern must start with "/", as
// paths do, and may not end with one, as cleaned paths do not (but for the
// root): such a pattern would silently never match. Nor may it be one whose
// matching could take more than about linear time; see internal/glob.
func compilePattern(s string) (pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return pattern{}, errNoLeadingSlash
	}
	if len(s) > 1 && strings.HasSuffix(s, "/") {
		return pattern{}, errTrailingSlash
	}
	g, err := glob.Compile(s)
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

// compileLowered compiles the globs lowered, for matching lowered paths;
// errors name the glob as written.
func compileLowered(key string, globs []string) (patternList, error) {
	lowered := make([]string, len(globs))
	for i, g := range globs {
		lowered[i] = strings.ToLower(g)
	}
	list, err := compilePatterns(key, lowered)
	var fe *FieldError
	if errors.As(err, &fe) {
		for i := range lowered {
			if indexKey(key, i) == fe.Key {
				fe.Value = globs[i]
			}
		}
	}
	return list, err
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

// Glob is one path glob compiled as the rules compile theirs: '/' as the
// separator, a leading "/", and the cost bounds of internal/glob. Other path
// matchers (the client events route, filter globs) use it, so that every
// path glob of trailcar means the same and costs the same.
type Glob struct{ p pattern }

// CompileGlob compiles a path glob; the error says what is wrong with it.
func CompileGlob(s string) (*Glob, error) {
	p, err := compilePattern(s)
	if err != nil {
		return nil, err
	}
	return &Glob{p}, nil
}

// Match reports whether path matches, as given: clean it first (CleanPath)
// to match it as the tracking rules do.
func (g *Glob) Match(path string) bool { return g.p.match(path) }

// CleanPath returns p as path.Clean would have it, rooted: the form in
// which paths are matched. A clean path is returned as is, without
// allocating.
func CleanPath(p string) string { return cleanPath(p) }
