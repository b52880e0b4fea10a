package audit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

// refusingFile is a real rotating file whose writes can be refused, as a
// full disk does: nothing is written while refuse is set.
type refusingFile struct {
	*rotate.File
	refuse atomic.Bool
}

func (f *refusingFile) Write(p []byte) (int, error) {
	if f.refuse.Load() {
		return 0, errors.New("no space left on device")
	}
	return f.File.Write(p)
}

// TestIDsRiseWithEventTime: a sealed writer under load from concurrent
// emitters, across rotations, with interval checkpoints and a spell of
// refused writes (the case where a checkpoint once got an id 73 s after
// its eventTime). Read back from every file in file order: eventTime never
// goes back; the ids the writer made (every line but the requests', which
// come with the id made when the request arrived) rise strictly, each
// within a millisecond of its eventTime; and no id is later than its
// line's eventTime.
func TestIDsRiseWithEventTime(t *testing.T) {
	dir := t.TempDir()
	rf, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	f := &refusingFile{File: rf}
	w := audit.New(audit.Options{
		File: f, Metrics: metrics.Discard(), Service: "console", Host: "h", Queue: 1 << 17, // nothing dropped while writes fail
		Seal: integrity.NewSealer(integrity.State{}, nil, "audit.log"), CheckpointEvery: 2 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
	})
	var requests event.IDs // the proxy's: ids made when a request arrives
	var mu sync.Mutex
	requestIDs := map[string]bool{}
	const workers, each = 6, 2500 // ~3 MiB: rotations too
	var emitted atomic.Int64
	refuseAt := int64(workers * each / 3)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := httpEvent(g*each + i)
				if i%2 == 0 {
					e.ID = requests.New()
					mu.Lock()
					requestIDs[e.ID] = true
					mu.Unlock()
					if i%50 == 0 {
						time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // a slow request
					}
				} else if i%7 == 1 {
					e = event.NewSystem("system.upstream.recovered", event.LevelInfo, "", nil)
				}
				if err := w.Emit(e); err != nil {
					t.Error(err)
					return
				}
				if emitted.Add(1) == refuseAt {
					// Two thirds are still to come: checkpoints fall due
					// while nothing can be written.
					f.refuse.Store(true)
					time.AfterFunc(60*time.Millisecond, func() { f.refuse.Store(false) })
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	lines := readEvents(t, dir)
	if len(lines) < workers*each {
		t.Fatalf("%d lines, want at least %d", len(lines), workers*each)
	}
	var lastTime time.Time
	lastWriterID, writerIDs, checkpoints, failed := "", 0, 0, 0
	for n, e := range lines {
		where := fmt.Sprintf("line %d (%s, %s)", n+1, e.Type, e.ID)
		if e.Time.Before(lastTime) {
			t.Fatalf("%s: eventTime %v before the line before's %v", where, e.Time, lastTime)
		}
		lastTime = e.Time
		idTime, ok := event.IDTime(e.ID)
		if !ok {
			t.Fatalf("%s: not an id", where)
		}
		if requestIDs[e.ID] {
			if idTime.After(e.Time) {
				t.Fatalf("%s: a request's id %v after its eventTime %v", where, idTime, e.Time)
			}
			continue
		}
		writerIDs++
		switch e.Type {
		case integrity.CheckpointType:
			checkpoints++
		case "system.audit.write_failed":
			failed++
		}
		if e.ID <= lastWriterID {
			t.Fatalf("%s: the writer's id is not after the one before, %s", where, lastWriterID)
		}
		lastWriterID = e.ID
		if d := idTime.Sub(e.Time.Truncate(time.Millisecond)); d < 0 || d > time.Millisecond {
			t.Fatalf("%s: id time %v, eventTime %v", where, idTime, e.Time)
		}
	}
	if checkpoints < 3 || failed == 0 {
		t.Fatalf("%d checkpoints, %d write_failed records: the load did not do what the test is about", checkpoints, failed)
	}
	t.Logf("%d lines, %d with ids the writer made, %d checkpoints", len(lines), writerIDs, checkpoints)
}
