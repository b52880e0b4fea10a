package store_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// TestFollowEveryLineOnce is the proof of the one follower that every
// stream uses: 10 followers (half of them slow enough to fall several
// rotations behind) follow a real audit writer through 20 rotations of
// 1 MiB files while 4 producers write, with and without compression of
// the rotated files. Each follower must see every line of every file
// exactly once, in file order.
func TestFollowEveryLineOnce(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			proveFollow(t, compress)
		})
	}
}

func proveFollow(t *testing.T, compress bool) {
	const (
		followers = 10
		producers = 4
		rotations = 20
		perFile   = 1 << 20 / 700 // testEvent lines are ~700 bytes
		events    = (rotations + 1) * perFile
	)
	l := openLog(t, compress)
	st := l.store(store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	got := make([][]string, followers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slow := i%2 == 1
			n := 0
			err := st.Follow(ctx, store.FollowOptions{Since: time.Now().Add(-time.Hour), Poll: 5 * time.Millisecond}, func(line []byte) error {
				id, ok := event.LineID(line)
				if !ok {
					return fmt.Errorf("not an event line: %.80q", line)
				}
				mu.Lock()
				got[i] = append(got[i], string(id))
				mu.Unlock()
				if n++; slow && n%200 == 0 {
					time.Sleep(2 * time.Millisecond) // a slow client: rotations pile up behind it
				}
				return nil
			})
			if err != nil {
				t.Errorf("follower %d: %v", i, err)
			}
		}()
	}

	var prod sync.WaitGroup
	for p := range producers {
		prod.Add(1)
		go func() {
			defer prod.Done()
			for i := p; i < events; i += producers {
				if err := l.emit(testEvent(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	prod.Wait()
	if err := l.w.Close(context.Background()); err != nil { // every event is in the files now
		t.Fatal(err)
	}

	// The truth: every line of every file, oldest first.
	lines := allLines(t, l.dir)
	want := make([]string, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		id, _ := event.LineID(lines[i])
		want = append(want, string(id))
	}
	if len(want) != events {
		t.Fatalf("the files hold %d lines, %d were written", len(want), events)
	}
	files, _ := rotate.List(l.dir, "audit.log")
	if len(files) < rotations+1 {
		t.Fatalf("%d files: want at least %d rotations", len(files), rotations)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		behind := 0
		for i := range got {
			behind += max(len(want)-len(got[i]), 0)
		}
		mu.Unlock()
		if behind == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	for i, ids := range got {
		if len(ids) != len(want) {
			t.Errorf("follower %d: %d lines, want %d", i, len(ids), len(want))
		}
		for j := range min(len(ids), len(want)) {
			if ids[j] != want[j] {
				t.Errorf("follower %d: line %d is %s, want %s (file of want: %s)", i, j, ids[j], want[j], fileOf(t, l.dir, want[j]))
				break
			}
		}
	}
	t.Logf("%d followers, %d lines each, %d files (%d rotations), compress=%v", followers, len(want), len(files), len(files)-1, compress)
}

func fileOf(t *testing.T, dir, id string) string {
	files, _ := rotate.List(dir, "audit.log")
	for _, f := range files {
		for _, line := range allLinesOf(t, f) {
			if strings.Contains(string(line), id) {
				return f.Name
			}
		}
	}
	return "?"
}

func allLinesOf(t *testing.T, f rotate.Info) [][]byte {
	data, _ := os.ReadFile(f.Path)
	if f.Compressed {
		zr, _ := gzip.NewReader(bytes.NewReader(data))
		data, _ = io.ReadAll(zr)
	}
	return bytes.Split(data, []byte("\n"))
}
