package event_test

import (
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

func TestIDsAreOrderedAndUnique(t *testing.T) {
	var g event.IDs
	const n = 100000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = g.New()
	}
	for i := 1; i < n; i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("id %d %s is not after %s", i, ids[i], ids[i-1])
		}
	}
	for _, id := range ids[:10] {
		if !event.ValidID(id) || id[12] != '7' {
			t.Fatalf("%s is not a dashless UUIDv7", id)
		}
	}
}

func TestIDsConcurrentUnique(t *testing.T) {
	var g event.IDs
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]string, 5000)
			for i := range local {
				local[i] = g.New()
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
			}
		}()
	}
	wg.Wait()
}

func TestIDTime(t *testing.T) {
	at := time.Date(2026, 11, 22, 8, 15, 30, 123000000, time.UTC)
	g := event.IDs{Now: func() time.Time { return at }}
	got, ok := event.IDTime(g.New())
	if !ok || !got.Equal(at) {
		t.Fatalf("IDTime = %v, %v; want %v", got, ok, at)
	}
	// A clock that steps back still gives increasing ids.
	a := g.New()
	g.Now = func() time.Time { return at.Add(-time.Hour) }
	if b := g.New(); b <= a {
		t.Fatalf("id after clock step back %s <= %s", b, a)
	}
}

func BenchmarkNewID(b *testing.B) {
	var g event.IDs
	b.ReportAllocs()
	for b.Loop() {
		_ = g.New()
	}
}
