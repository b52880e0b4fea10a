package store_test

import (
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/store"
)

func TestCursorRoundTrip(t *testing.T) {
	c := store.Cursor{Time: "2026-11-22T08:15:30.123456Z", ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f", N: 3}
	s := c.String()
	if strings.ContainsAny(s, "+/=%&?") {
		t.Fatalf("cursor %q is not URL-safe", s)
	}
	back, err := store.ParseCursor(s)
	if err != nil || back != c {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func TestParseCursorRejects(t *testing.T) {
	for _, s := range []string{"", "!!", "bm90IGEgY3Vyc29y", store.Cursor{Time: "2026-13-22T08:15:30.123456Z", ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f", N: 1}.String(),
		store.Cursor{Time: "2026-11-22T08:15:30.123456Z", ID: "0193", N: 1}.String(),
		store.Cursor{Time: "2026-11-22T08:15:30.123456Z", ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f", N: 0}.String()} {
		if _, err := store.ParseCursor(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// FuzzParseCursor: anything ParseCursor accepts encodes back to itself.
func FuzzParseCursor(f *testing.F) {
	f.Add(store.Cursor{Time: "2026-11-22T08:15:30.123456Z", ID: "01937c4e5a2b7c3d8e9f0a1b2c3d4e5f", N: 3}.String())
	f.Add("MS4yMDI2LTExLTIyVDA4OjE1OjMwLjEyMzQ1Nlo")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.ParseCursor(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("%q parses to %+v, which encodes as %q", s, c, c.String())
		}
	})
}
