package clientevent_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/proxy/clientevent"
)

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func TestLimiterBurstThenRate(t *testing.T) {
	l := clientevent.NewLimiter(2, 3, 0) // 2/s, burst 3
	for i := range 3 {
		if ok, _ := l.Allow("10.0.0.1", t0); !ok {
			t.Fatalf("event %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("10.0.0.1", t0)
	if ok {
		t.Fatal("4th event at once allowed, want refused")
	}
	if wait != 500*time.Millisecond {
		t.Errorf("retry after %v, want 500ms (one token at 2/s)", wait)
	}
	// A refusal must not use up the token it waited for.
	if ok, _ := l.Allow("10.0.0.1", t0.Add(500*time.Millisecond)); !ok {
		t.Error("refused after waiting the retry-after time")
	}
	if ok, _ := l.Allow("10.0.0.1", t0.Add(500*time.Millisecond)); ok {
		t.Error("a second event in the same instant allowed")
	}
	if ok, _ := l.Allow("10.0.0.2", t0); !ok {
		t.Error("another address was limited by the first one's bucket")
	}
}

func TestLimiterBounded(t *testing.T) {
	tests := []struct {
		name    string
		step    time.Duration // between new addresses
		max     int
		addrs   int
		wantLen int
	}{
		// Burst 2 at 1/s: a bucket is full again after 2 s.
		{"active clients: least recently seen forgotten", 10 * time.Millisecond, 5, 50, 5},
		{"idle clients dropped before the bound", 3 * time.Second, 5, 50, 1},
		{"under the bound: all kept", 10 * time.Millisecond, 100, 50, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := clientevent.NewLimiter(1, 2, tc.max)
			now := t0
			for i := range tc.addrs {
				if ok, _ := l.Allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now); !ok {
					t.Fatalf("address %d refused on its first event", i)
				}
				now = now.Add(tc.step)
			}
			if got := l.Len(); got != tc.wantLen {
				t.Errorf("Len() = %d, want %d", got, tc.wantLen)
			}
		})
	}
}

func TestLimiterKeepsActiveClient(t *testing.T) {
	// A client that keeps sending stays at the front and keeps its
	// (empty) bucket while a flood of new addresses churns through.
	l := clientevent.NewLimiter(1, 1, 3)
	now := t0
	if ok, _ := l.Allow("busy", now); !ok {
		t.Fatal("first event refused")
	}
	for i := range 20 {
		now = now.Add(10 * time.Millisecond)
		l.Allow(fmt.Sprintf("flood-%d", i), now)
		if ok, _ := l.Allow("busy", now); ok {
			t.Fatalf("after flood address %d: busy client got a fresh bucket", i)
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := clientevent.NewLimiter(1, 10, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if ok, _ := l.Allow(fmt.Sprintf("a%d", i%4), t0); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 40 { // 4 addresses x burst 10, no time passing
		t.Errorf("allowed %d events, want 40", allowed)
	}
}
