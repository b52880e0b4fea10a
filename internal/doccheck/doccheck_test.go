package doccheck_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/doccheck"
)

// TestRepository: every citation of the docs in this repository's code,
// scripts and examples, and every link in its README and docs/, resolves.
// A heading renamed or moved without its citations fails here, naming each.
func TestRepository(t *testing.T) {
	r, err := doccheck.Check("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Problems {
		t.Error(p)
	}
	t.Logf("%d citations and %d links checked", r.Citations, r.Links)
	// The walk must have read the tree: the code cites the docs in about
	// fifty places and the docs link each other in about as many.
	if r.Citations < 40 || r.Links < 40 {
		t.Errorf("checked %d citations and %d links; the walk missed the tree", r.Citations, r.Links)
	}
}

// TestFixtures runs the check over two small repositories under
// testdata/repos: good, where every reference resolves, and broken, where
// each reference of the same shapes is broken in one way; want.txt lists
// the problems, one "file:line: message" a line.
func TestFixtures(t *testing.T) {
	for _, tc := range []struct {
		name             string
		citations, links int
	}{
		{"good", 11, 7},
		{"broken", 10, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "repos", tc.name)
			r, err := doccheck.Check(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range r.Problems {
				got = append(got, p.String())
			}
			want := readLines(t, filepath.Join(dir, "..", tc.name+".want"))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if r.Citations != tc.citations || r.Links != tc.links {
				t.Errorf("checked %d citations and %d links, want %d and %d", r.Citations, r.Links, tc.citations, tc.links)
			}
		})
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}
