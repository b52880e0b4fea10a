// Package glob compiles every glob trailcar matches (route globs of the
// config, filter globs of the API and the CLI, webhook type globs) the same
// way: gobwas/glob with '/' as the separator, refused when its matching
// could cost more than about linear time in what it is matched against
// (which clients choose: a path, a resource id). One check, so a glob that
// is refused in the config is refused as a filter parameter too.
package glob

import gobwas "github.com/gobwas/glob"

// Pattern is a compiled glob.
type Pattern = gobwas.Pattern

// Compile compiles pattern with '/' as the separator, or says why not: a
// syntax error, or a shape too costly to match (see checkCost).
func Compile(pattern string) (*Pattern, error) {
	g, err := gobwas.Compile(pattern, '/')
	if err != nil {
		return nil, err
	}
	if err := checkCost(pattern); err != nil {
		return nil, err
	}
	return g, nil
}
