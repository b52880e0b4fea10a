package event_test

import (
	"net/url"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
)

// BenchmarkLineFilter measures the fast path on a typical http line that
// the filter rejects, and the full decode it avoids.
func BenchmarkLineFilter(b *testing.B) {
	line := encodeLine(b, sample())
	for _, q := range []string{"level=error", "action=console.keys.*", "user=bob&status=5xx", "resource=/api/v3/x/**"} {
		v, _ := url.ParseQuery(q)
		f, err := event.ParseFilter(v)
		if err != nil {
			b.Fatal(err)
		}
		lf := event.NewLineFilter(&f)
		b.Run(q, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if lf.Match(line) != event.NoMatch {
					b.Fatal("matched")
				}
			}
		})
	}
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		var e event.Event
		for b.Loop() {
			if err := event.Decode(line, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
