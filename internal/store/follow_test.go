package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// TestFollowAcrossRotationAndRewrite: follow sees each new matching event
// once, in order, while the live file rotates and is rewritten by a delete.
func TestFollowAcrossRotationAndRewrite(t *testing.T) {
	l := openLog(t, false)
	old := l.emitN(t, 0, 100) // written before following: not shown
	l.flush(t)
	st := l.store(store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- st.FollowEvents(ctx, filter(t, "level=info"), store.FollowOptions{Poll: 5 * time.Millisecond}, func(line []byte) error {
			id, _ := event.LineID(line)
			mu.Lock()
			got = append(got, string(id))
			mu.Unlock()
			return nil
		})
	}()
	// Probes until the follower shows one: from then on it sees all.
	probes := map[string]bool{}
	for seen := false; !seen; {
		e := &event.Event{Type: "system.test.probe", Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
		if err := l.emit(e); err != nil {
			t.Fatal(err)
		}
		probes[e.ID] = true
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		seen = len(got) > 0
		mu.Unlock()
	}
	var want []string
	for round := 0; round < 4; round++ {
		for i := 0; i < 1000; i++ {
			e := testEvent(100 + round*1000 + i)
			if err := l.emit(e); err != nil {
				t.Fatal(err)
			}
			if e.Level == event.LevelInfo {
				want = append(want, e.ID)
			}
		}
		l.flush(t)
		// A delete rewrites the live file under the follower.
		if _, err := st.DeleteID(context.Background(), old[round]); err != nil {
			t.Fatal(err)
		}
	}
	l.flush(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, id := range got {
			if !probes[id] {
				n++
			}
		}
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond) // anything extra would show now
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for len(got) > 0 && probes[got[0]] {
		got = got[1:]
	}
	if len(got) != len(want) {
		gotSet := map[string]int{}
		for i, g := range got {
			gotSet[g] = i
		}
		for i, w := range want {
			if _, ok := gotSet[w]; !ok {
				t.Logf("missing want[%d]", i)
				break
			}
		}
		t.Fatalf("followed %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d is %s, want %s", i, got[i], want[i])
		}
	}
	if countFiles(t, l.dir) < 3 {
		t.Fatal("no rotation happened while following")
	}
}
