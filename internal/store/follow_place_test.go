package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// TestFollowPlaceAndAfter: Place names each line's file (a rotated one
// without .gz) and the uncompressed offset just after it; a follow that
// starts after given lines (AfterTime, AfterIDs) passes exactly the lines
// after them, across a compressed rotated file and the live one.
func TestFollowPlaceAndAfter(t *testing.T) {
	dir := t.TempDir()
	writeEvents(t, filepath.Join(dir, "audit.log"), 30)
	time.Sleep(2 * time.Millisecond) // the rotated name is later than every line in it
	rotateLive(t, dir)
	rotated, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	plain, err := os.ReadFile(rotated[0])
	mustDo(t, err)
	gzipFile(t, rotated[0])
	writeEvents(t, filepath.Join(dir, "audit.log"), 20)
	live, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	mustDo(t, err)

	type placed struct {
		file string
		end  int64
		id   string
	}
	follow := func(opts store.FollowOptions) []placed {
		var got []placed
		var at placed
		opts.Place = func(file string, end int64) { at = placed{file: file, end: end} }
		opts.Poll = 5 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := store.New(store.Options{Dir: dir}).Follow(ctx, opts, func(line []byte) error {
			id, _ := event.LineID(line)
			at.id = string(id)
			got = append(got, at)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := follow(store.FollowOptions{Since: time.Unix(0, 0), Until: time.Now().Add(-time.Second)})
	if len(all) != 50 {
		t.Fatalf("%d lines, want 50", len(all))
	}
	rotatedName := filepath.Base(rotated[0])
	for i, p := range all {
		file, data, n := rotatedName, plain, i
		if i >= 30 {
			file, data, n = "audit.log", live, i-30
		}
		end := int64(0)
		for range n + 1 {
			end += int64(bytes.IndexByte(data[end:], '\n')) + 1
		}
		if p.file != file || p.end != end {
			t.Fatalf("line %d placed at %s:%d, want %s:%d", i, p.file, p.end, file, end)
		}
	}
	lines := append(bytes.Split(bytes.TrimSpace(plain), []byte("\n")), bytes.Split(bytes.TrimSpace(live), []byte("\n"))...)
	for _, from := range []int{0, 29, 30, 42, 49} {
		ts, _ := event.LineTime(lines[from])
		after := string(ts)
		got := follow(store.FollowOptions{AfterTime: after, AfterIDs: []string{all[from].id}, Until: time.Now().Add(-time.Second)})
		// New: later than the line, or at its time with another id (lines
		// written in the same microsecond share it).
		var want []string
		for i, l := range lines {
			lt, _ := event.LineTime(l)
			if string(lt) > after || string(lt) == after && all[i].id != all[from].id {
				want = append(want, all[i].id)
			}
		}
		var ids []string
		for _, p := range got {
			ids = append(ids, p.id)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("after line %d: %d lines %v, want %d %v", from, len(ids), ids, len(want), want)
		}
	}
}
