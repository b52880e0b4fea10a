package store_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

func TestDeleteByFilter(t *testing.T) {
	l := openLog(t, true)
	l.emitN(t, 0, 4000)
	l.flush(t)
	waitFiles(t, l.dir, true)
	lines := allLines(t, l.dir)
	var e event.Event
	event.Decode(lines[len(lines)/2], &e)
	mid := e.Time.Format(time.RFC3339Nano)
	tests := []string{"level=error", "since=" + mid + "&user=bob", "before=" + mid, "type=system.*&since=" + mid, "user=nobody"}
	for _, q := range tests {
		t.Run(q, func(t *testing.T) {
			before := allLines(t, l.dir)
			f := filter(t, q)
			n, err := l.store(store.Options{}).Delete(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			gone := matching(before, f)
			if n != len(gone) {
				t.Fatalf("deleted %d, want %d", n, len(gone))
			}
			assertSame(t, matching(allLines(t, l.dir), &event.Filter{}), without(matching(before, &event.Filter{}), gone))
			assertGzipWhole(t, l.dir)
		})
	}
}

func without(all, gone []string) []string {
	drop := map[string]bool{}
	for _, g := range gone {
		drop[g] = true
	}
	var out []string
	for _, a := range all {
		if !drop[a] {
			out = append(out, a)
		}
	}
	return out
}

// assertGzipWhole checks that rotated files are still gzip files and no
// temporary file is left.
func assertGzipWhole(t *testing.T, dir string) {
	t.Helper()
	files, _ := rotate.List(dir, "audit.log")
	for _, f := range files {
		if !f.Compressed {
			continue
		}
		data, _ := os.ReadFile(f.Path)
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			_, err = zr.Read(make([]byte, 1))
		}
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".rewrite-") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

func TestDeleteID(t *testing.T) {
	l := openLog(t, false)
	ids := l.emitN(t, 0, 3000)
	l.flush(t)
	st := l.store(store.Options{})
	for _, i := range []int{0, 1500, 2999} {
		n, err := st.DeleteID(context.Background(), ids[i])
		if err != nil || n != 1 {
			t.Fatalf("delete %d: %d, %v", i, n, err)
		}
		if _, err := st.Get(context.Background(), ids[i]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("event %d still there: %v", i, err)
		}
		if _, err := st.DeleteID(context.Background(), ids[i]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete of %d: %v", i, err)
		}
	}
	if n := len(allLines(t, l.dir)); n != 2997 {
		t.Fatalf("%d lines left, want 2997", n)
	}
}

// TestDeleteDuringWriteLoad deletes while writers emit fast enough to
// rotate: afterwards every event written is there exactly once, unless a
// delete removed it, and the counts add up.
func TestDeleteDuringWriteLoad(t *testing.T) {
	l := openLog(t, true)
	st := l.store(store.Options{})
	var mu sync.Mutex
	emitted := map[string]bool{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// About 40,000 events a second in all: enough to rotate
			// 1 MiB files several times a second, not to fill the disk.
			for i := g; !stop.Load() && i < 60000; i += 4 {
				if i%40 == g {
					time.Sleep(time.Millisecond)
				}
				e := testEvent(i)
				if err := l.emit(e); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				emitted[e.ID] = true
				mu.Unlock()
			}
		}()
	}
	deleted := 0
	for round := 0; round < 4; round++ {
		time.Sleep(60 * time.Millisecond)
		n, err := st.Delete(context.Background(), filter(t, "level=error"))
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
	}
	stop.Store(true)
	wg.Wait()
	l.flush(t)
	seen := map[string]bool{}
	for _, line := range allLines(t, l.dir) {
		var e event.Event
		if err := event.Decode(line, &e); err != nil {
			t.Fatalf("bad line after deletes: %v: %q", err, line)
		}
		if seen[e.ID] {
			t.Fatalf("event %s twice", e.ID)
		}
		seen[e.ID] = true
		if !emitted[e.ID] {
			t.Fatalf("event %s was never emitted", e.ID)
		}
	}
	t.Logf("%d emitted, %d deleted, %d files", len(emitted), deleted, countFiles(t, l.dir))
	if len(seen)+deleted != len(emitted) {
		t.Fatalf("%d events left + %d deleted != %d emitted", len(seen), deleted, len(emitted))
	}
	if deleted == 0 || countFiles(t, l.dir) < 3 {
		t.Fatalf("the test did not exercise anything: %d deleted, %d files", deleted, countFiles(t, l.dir))
	}
	assertGzipWhole(t, l.dir)
}
