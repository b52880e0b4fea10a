package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// The benchmarks read the data set of bench/query/run.sh (TRAILCAR_BENCH_DIR,
// e.g. /tmp/trailcar-query/logs, made by bench/query/gen); without it they
// are skipped. TRAILCAR_BENCH_ID is an id to get (gen prints one).
func benchStore(b *testing.B) *store.Store {
	dir := os.Getenv("TRAILCAR_BENCH_DIR")
	if dir == "" {
		b.Skip("TRAILCAR_BENCH_DIR not set: see bench/query/run.sh")
	}
	return store.New(store.Options{Dir: dir})
}

func benchSize(b *testing.B) int64 {
	var total int64
	entries, _ := os.ReadDir(os.Getenv("TRAILCAR_BENCH_DIR"))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			total += fi.Size()
		}
	}
	return total
}

func BenchmarkNewest100(b *testing.B) {
	st := benchStore(b)
	for _, q := range []string{"", "action=console.keys.rotate"} {
		f := filter(b, q)
		b.Run("filter="+q, func(b *testing.B) {
			for b.Loop() {
				p, err := st.List(context.Background(), store.Query{Filter: f, Limit: 100})
				if err != nil || len(p.Lines) != 100 {
					b.Fatalf("%d lines, %v", len(p.Lines), err)
				}
			}
		})
	}
}

func BenchmarkFullScan(b *testing.B) {
	st := benchStore(b)
	f := filter(b, "level=error")
	b.SetBytes(benchSize(b))
	for b.Loop() {
		n := 0
		if _, err := st.Each(context.Background(), f, nil, func([]byte) error { n++; return nil }); err != nil || n == 0 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	st := benchStore(b)
	id := os.Getenv("TRAILCAR_BENCH_ID")
	if !event.ValidID(id) {
		b.Skip("TRAILCAR_BENCH_ID not set")
	}
	for b.Loop() {
		if _, err := st.Get(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
}
