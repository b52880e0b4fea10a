package rotate_test

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

// clock is a time that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// files returns the number of audit files in dir.
func files(t *testing.T, dir string) int {
	t.Helper()
	list, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// The live file rotates on the first write once its first line is
// rotate_every old, before that write: each file holds whole lines, in
// sequence, and retention applies to files rotated by age too.
func TestRotateEveryOnWrite(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	var rotations atomic.Int32
	f := open(t, rotate.Options{Dir: dir, MaxFiles: 3, RotateEvery: time.Hour, Now: clk.Now,
		CheckEvery: time.Hour, OnRotate: func() { rotations.Add(1) }})

	steps := []struct {
		advance   time.Duration
		rotations int32
	}{
		{0, 0},                // the first line starts the hour
		{59 * time.Minute, 0}, // 59 min old
		{time.Minute, 1},      // 1 h old: rotated before this write
		{30 * time.Minute, 1}, // the new file is 30 min old
		{30 * time.Minute, 2}, // and now 1 h
		{5 * time.Hour, 3},    // however long nothing came
		{time.Millisecond, 3}, // the file made by the last write is young
	}
	for i, step := range steps {
		clk.advance(step.advance)
		writeLines(t, f, i*10, 10, 100, 3)
		if got := rotations.Load(); got != step.rotations {
			t.Fatalf("step %d: %d rotations, want %d", i, got, step.rotations)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sidecartest.Eventually(t, "retention to keep 3 files", func() bool { return files(t, dir) == 3 })
	// Files: steps 0-1, 2-3, 4, 5-6 (live); the newest 3 are kept.
	checkSequence(t, readAll(t, dir), 20, 50)
	list, _ := rotate.List(dir, "audit.log")
	if !list[0].Live || list[1].Rotated.IsZero() || list[2].Rotated.IsZero() {
		t.Errorf("files %+v, want the live file then two with lumberjack's rotated names", list)
	}
}

// A file nothing is written to is rotated by the watch once it is old
// enough; an empty live file is never rotated.
func TestRotateEveryIdleFile(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	var rotations atomic.Int32
	f := open(t, rotate.Options{Dir: dir, RotateEvery: time.Hour, Now: clk.Now,
		CheckEvery: 5 * time.Millisecond, OnRotate: func() { rotations.Add(1) }})
	writeLines(t, f, 0, 5, 100, 5)
	clk.advance(2 * time.Hour)
	sidecartest.Eventually(t, "the idle file to be rotated", func() bool { return rotations.Load() == 1 })
	clk.advance(24 * time.Hour)
	time.Sleep(50 * time.Millisecond) // ten checks of an empty live file
	if got := rotations.Load(); got != 1 {
		t.Errorf("%d rotations, want 1: an empty file is not rotated", got)
	}
	f.Close()
	checkSequence(t, readAll(t, dir), 0, 5)
	if n := files(t, dir); n != 2 {
		t.Errorf("%d files, want 2", n)
	}
}

// rotate_every 0 rotates by size only, however old the file.
func TestRotateEveryZeroIsSizeOnly(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	f := open(t, rotate.Options{Dir: dir, Now: clk.Now, CheckEvery: 5 * time.Millisecond})
	writeLines(t, f, 0, 5, 100, 5)
	clk.advance(1000 * time.Hour)
	time.Sleep(30 * time.Millisecond)
	writeLines(t, f, 5, 5, 100, 5)
	f.Close()
	if n := files(t, dir); n != 1 {
		t.Errorf("%d files, want 1", n)
	}
}

// A live file found holding lines at open is as old as the rotation that
// began it (the newest rotated file's name), so a restart does not make
// it young again; with no rotated file its age counts from the open.
func TestRotateEveryAgeAcrossRestart(t *testing.T) {
	tests := []struct {
		name        string
		rotatedAgo  time.Duration // 0: no rotated file
		wantRotated bool
	}{
		{"begun 2h ago", 2 * time.Hour, true},
		{"begun 10m ago", 10 * time.Minute, false},
		{"no rotated file", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "audit.log"), []byte("{\"n\":0,\"pad\":\"\"}\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			if tt.rotatedAgo > 0 {
				name := "audit-" + time.Now().UTC().Add(-tt.rotatedAgo).Format("2006-01-02T15-04-05.000") + ".log"
				if err := os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			var rotations atomic.Int32
			f := open(t, rotate.Options{Dir: dir, RotateEvery: time.Hour, CheckEvery: time.Hour,
				OnRotate: func() { rotations.Add(1) }})
			writeLines(t, f, 1, 1, 0, 1)
			if got := rotations.Load() == 1; got != tt.wantRotated {
				t.Errorf("rotated = %v, want %v", got, tt.wantRotated)
			}
		})
	}
}

// With HandOff the file due by age is left to the caller: Write and the
// watch do not rotate it, Remaining says 0, and the caller ends the file
// (a checkpoint) and calls Rotate.
func TestRotateEveryHandOff(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	var rotations atomic.Int32
	f := open(t, rotate.Options{Dir: dir, RotateEvery: time.Hour, HandOff: true, Now: clk.Now,
		CheckEvery: 5 * time.Millisecond, OnRotate: func() { rotations.Add(1) }})
	writeLines(t, f, 0, 5, 100, 5)
	if got := f.Remaining(); got == 0 {
		t.Fatal("Remaining = 0 for a young file")
	}
	clk.advance(time.Hour)
	time.Sleep(30 * time.Millisecond) // the watch leaves it to the caller
	if got := f.Remaining(); got != 0 {
		t.Errorf("Remaining = %d for a file due by age, want 0", got)
	}
	writeLines(t, f, 5, 1, 100, 1) // the caller's last line (its checkpoint)
	if got := rotations.Load(); got != 0 {
		t.Fatalf("%d rotations before Rotate, want 0", got)
	}
	if err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	if got := f.Remaining(); got != int64(f.MaxWrite()) {
		t.Errorf("Remaining = %d after Rotate, want %d", got, f.MaxWrite())
	}
	f.Close()
	if n := files(t, dir); n != 2 {
		t.Errorf("%d files, want 2", n)
	}
	checkSequence(t, readAll(t, dir), 0, 6)
}
