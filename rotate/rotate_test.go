package rotate_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

func open(t *testing.T, opts rotate.Options) *rotate.File {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Filename == "" {
		opts.Filename = "audit.log"
	}
	if opts.MaxSizeMB == 0 {
		opts.MaxSizeMB = 1
	}
	f, err := rotate.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// writeLines writes n numbered lines of about size bytes each, in batches.
func writeLines(t *testing.T, f *rotate.File, from, n, size, batch int) {
	t.Helper()
	var buf bytes.Buffer
	pad := strings.Repeat("x", size)
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&buf, "{\"n\":%d,\"pad\":%q}\n", i, pad)
		if (i-from+1)%batch == 0 || i == from+n-1 {
			if _, err := f.Write(buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			buf.Reset()
		}
	}
}

// readAll returns every line of every audit file, oldest file first.
func readAll(t *testing.T, dir string) []string {
	t.Helper()
	files, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := len(files) - 1; i >= 0; i-- {
		fd, err := os.Open(files[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = fd
		if files[i].Compressed {
			if r, err = gzip.NewReader(fd); err != nil {
				t.Fatal(err)
			}
		}
		data, err := io.ReadAll(r)
		fd.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatalf("%s does not end with a newline", files[i].Name)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

func checkSequence(t *testing.T, lines []string, from, n int) {
	t.Helper()
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, fmt.Sprintf("{\"n\":%d,", from+i)) {
			t.Fatalf("line %d is %.40q, want number %d", i, l, from+i)
		}
	}
}

func TestRotatesWithoutSplittingLines(t *testing.T) {
	dir := t.TempDir()
	var rotations atomic.Int32
	f := open(t, rotate.Options{Dir: dir, OnRotate: func() { rotations.Add(1) }})
	writeLines(t, f, 0, 9000, 300, 37) // ~3 MiB
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := rotate.List(dir, "audit.log")
	if len(files) < 3 || rotations.Load() != int32(len(files)-1) {
		t.Fatalf("%d files after %d rotations", len(files), rotations.Load())
	}
	for _, fi := range files {
		if fi.Size > 1<<20 {
			t.Errorf("%s is %d bytes, over 1 MiB", fi.Name, fi.Size)
		}
	}
	checkSequence(t, readAll(t, dir), 0, 9000)
}

func TestMaxFilesAndCompress(t *testing.T) {
	dir := t.TempDir()
	f := open(t, rotate.Options{Dir: dir, MaxFiles: 3, Compress: true, FileMode: 0o600})
	writeLines(t, f, 0, 20000, 300, 50) // ~6.5 MiB: 7 files before retention
	sidecartest.Eventually(t, "retention to keep 3 files, 2 compressed", func() bool {
		files, _ := rotate.List(dir, "audit.log")
		if len(files) != 3 {
			return false
		}
		return !files[0].Compressed && files[1].Compressed && files[2].Compressed
	})
	f.Close()
	files, _ := rotate.List(dir, "audit.log")
	for _, fi := range files {
		st, _ := os.Stat(fi.Path)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", fi.Name, st.Mode().Perm())
		}
	}
	lines := readAll(t, dir)
	// The oldest kept lines are some suffix of the sequence, complete to the end.
	var first int
	fmt.Sscanf(lines[0], "{\"n\":%d,", &first)
	checkSequence(t, lines, first, 20000-first)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestMaxAgeDays(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "audit-2020-01-02T03-04-05.678.log")
	recent := filepath.Join(dir, "audit-"+time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15-04-05.000")+".log")
	os.WriteFile(old, []byte("{}\n"), 0o640)
	os.WriteFile(recent, []byte("{}\n"), 0o640)
	open(t, rotate.Options{Dir: dir, MaxAgeDays: 7})
	sidecartest.Eventually(t, "the old file to be removed", func() bool { _, err := os.Stat(old); return os.IsNotExist(err) })
	if _, err := os.Stat(recent); err != nil {
		t.Fatalf("recent rotated file removed: %v", err)
	}
}

func TestFileModeOfLiveFile(t *testing.T) {
	dir := t.TempDir()
	f := open(t, rotate.Options{Dir: dir, FileMode: 0o604})
	f.Write([]byte("{}\n"))
	st, err := os.Stat(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o604 {
		t.Fatalf("mode %v, want 0604", st.Mode().Perm())
	}
}

func TestDeletedFromOutsideIsNoticed(t *testing.T) {
	dir := t.TempDir()
	reasons := make(chan string, 4)
	f := open(t, rotate.Options{Dir: dir, CheckEvery: 50 * time.Millisecond})
	f.NotifyReplaced(func(r string) { reasons <- r })
	writeLines(t, f, 0, 10, 10, 10)
	if err := os.Remove(f.Path()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reasons:
		if r != "deleted" {
			t.Fatalf("reason %q, want deleted", r)
		}
	case <-time.After(time.Second):
		t.Fatal("deletion not noticed within 1 s")
	}
	if _, err := os.Stat(f.Path()); err != nil {
		t.Fatalf("live file not recreated: %v", err)
	}
	writeLines(t, f, 10, 5, 10, 5)
	checkSequence(t, readAll(t, dir), 10, 5)
}

func TestReplacedFromOutsideIsNoticedOnWrite(t *testing.T) {
	dir := t.TempDir()
	reasons := make(chan string, 4)
	f := open(t, rotate.Options{Dir: dir, CheckEvery: time.Hour})
	f.NotifyReplaced(func(r string) { reasons <- r })
	writeLines(t, f, 0, 3, 10, 3)
	other := filepath.Join(dir, "other")
	os.WriteFile(other, nil, 0o640)
	if err := os.Rename(other, f.Path()); err != nil {
		t.Fatal(err)
	}
	writeLines(t, f, 3, 2, 10, 2) // must land in the new file, not the unlinked one
	if r := <-reasons; r != "replaced" {
		t.Fatalf("reason %q, want replaced", r)
	}
	checkSequence(t, readAll(t, dir), 3, 2)
}

func TestTornTailRepairedOnOpen(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "audit.log"), []byte("{\"n\":0,}\n{\"n\":1,}\n{\"n\":2,\"torn"), 0o640)
	f := open(t, rotate.Options{Dir: dir})
	f.Write([]byte("{\"n\":2,}\n"))
	f.Close()
	checkSequence(t, readAll(t, dir), 0, 3)
}

func TestReopenAfterMoveAway(t *testing.T) {
	dir := t.TempDir()
	f := open(t, rotate.Options{Dir: dir, CheckEvery: time.Hour})
	writeLines(t, f, 0, 3, 10, 3)
	os.Rename(f.Path(), filepath.Join(dir, "moved.log"))
	if r, err := f.Reopen(); err != nil || !r.Moved || r.MovedTo != "moved.log" {
		t.Fatalf("Reopen: %+v, %v; want moved to moved.log", r, err)
	}
	writeLines(t, f, 3, 2, 10, 2)
	checkSequence(t, readAll(t, dir), 3, 2)
	moved, _ := os.ReadFile(filepath.Join(dir, "moved.log"))
	if bytes.Count(moved, []byte("\n")) != 3 {
		t.Fatalf("moved file has %q", moved)
	}
}

func TestListOrderAndFilter(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"audit.log", "audit-2026-11-22T08-15-30.123.log", "audit-2026-11-22T09-00-00.000.log.gz",
		"audit-2026-11-21T00-00-00.000.log", "audit-2026-11-21T00-00-00.000.log.gz", // interrupted compression
		".index", "other.log", "audit-garbage.log", "audit-2026-11-22T08-15-30.123.txt",
	} {
		os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o640)
	}
	files, err := rotate.List(dir, "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name)
	}
	want := "audit.log audit-2026-11-22T09-00-00.000.log.gz audit-2026-11-22T08-15-30.123.log audit-2026-11-21T00-00-00.000.log.gz"
	if strings.Join(got, " ") != want {
		t.Fatalf("List = %v\nwant %v", got, want)
	}
}

func TestWriteTooLargeRefused(t *testing.T) {
	f := open(t, rotate.Options{})
	if _, err := f.Write(make([]byte, 1<<20+1)); err == nil {
		t.Fatal("want an error for a write larger than the file size")
	}
}

// TestMovedAwayIsHeld: with NotifyMoved set, a live file moved away
// (still linked) is reported once, and written where it went until
// Reopen, which opens the path again and says where the file went; a
// file deleted is still reported as deleted.
func TestMovedAwayIsHeld(t *testing.T) {
	dir := t.TempDir()
	var moved, replaced atomic.Int32
	f := open(t, rotate.Options{Dir: dir, CheckEvery: 10 * time.Millisecond})
	f.NotifyMoved(func() { moved.Add(1) })
	f.NotifyReplaced(func(string) { replaced.Add(1) })
	writeLines(t, f, 0, 3, 10, 3)
	os.Rename(f.Path(), filepath.Join(dir, "audit.log.1"))
	sidecartest.Eventually(t, "the move noticed", func() bool { return moved.Load() == 1 && f.Moved() })
	writeLines(t, f, 3, 2, 10, 2) // still into the moved file
	time.Sleep(50 * time.Millisecond)
	if moved.Load() != 1 || replaced.Load() != 0 {
		t.Fatalf("moved %d, replaced %d; want 1, 0", moved.Load(), replaced.Load())
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "audit.log.1")); bytes.Count(data, []byte("\n")) != 5 {
		t.Fatalf("moved file has %q", data)
	}
	r, err := f.Reopen()
	if err != nil || !r.Moved || r.MovedTo != "audit.log.1" || f.Moved() {
		t.Fatalf("Reopen: %+v, %v", r, err)
	}
	writeLines(t, f, 5, 1, 10, 1)
	checkSequence(t, readAll(t, dir), 5, 1)

	os.Remove(f.Path())
	sidecartest.Eventually(t, "the deletion noticed", func() bool { return replaced.Load() == 1 })
	if moved.Load() != 1 {
		t.Fatalf("a deletion taken for a move")
	}
}
