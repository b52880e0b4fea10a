package rotate_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/rotate"
)

// TestRotateForDelete: the live file is renamed aside and recorded; its
// size still counts toward the live file's (Remaining), also for the next
// process; an ordinary rotation starts afresh; and an empty live file due
// for rotation makes the file rotated aside count instead.
func TestRotateForDelete(t *testing.T) {
	dir := t.TempDir()
	open := func() *rotate.File {
		f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	line := []byte(strings.Repeat("x", 999) + "\n")
	for range 100 {
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.RotateForDelete(); err != nil {
		t.Fatal(err)
	}
	files, _ := rotate.List(dir, "audit.log")
	if len(files) != 2 || files[0].Size != 0 || files[1].Size != 100_000 {
		t.Fatalf("after a rotation for a delete: %+v", files)
	}
	record, err := os.ReadFile(filepath.Join(dir, rotate.AsideFile))
	if err != nil || !bytes.Contains(record, []byte(`"file":"`+files[1].Name+`","bytes":100000`)) {
		t.Fatalf("%s: %q, %v", rotate.AsideFile, record, err)
	}
	if got := f.Remaining(); got != 1<<20-100_000 {
		t.Fatalf("Remaining %d; want the file rotated aside counted", got)
	}
	f.Close()
	f = open() // a new process finds it in the record
	defer func() { f.Close() }()
	if got := f.Remaining(); got != 1<<20-100_000 {
		t.Fatalf("Remaining after a reopen %d; want the file rotated aside counted", got)
	}
	// Fill the rest: the live file rotates where it would have without the
	// delete, after 1048 lines of 1000 bytes in all.
	for i := 0; ; i++ {
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
		if files, _ := rotate.List(dir, "audit.log"); len(files) == 3 {
			if i+100 != 1048 || files[0].Size != 1000 {
				t.Fatalf("rotated at line %d of the file (live %d bytes); want 1048", i+100, files[0].Size)
			}
			break
		}
	}
	if got := f.Remaining(); got != 1<<20-1000 {
		t.Fatalf("Remaining after an ordinary rotation %d; want the live file's alone", got)
	}

	// An empty live file that is due: the file rotated aside counts.
	if err := f.RotateForDelete(); err != nil {
		t.Fatal(err)
	}
	files, _ = rotate.List(dir, "audit.log")
	second := files[1].Name
	if err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	if record, err := os.ReadFile(filepath.Join(dir, rotate.AsideFile)); err != nil || bytes.Contains(record, []byte(second)) {
		t.Fatalf("%s after the empty live file ended: %q, %v; want %s counted", rotate.AsideFile, record, err, second)
	}
	if got := f.Remaining(); got != 1<<20 {
		t.Fatalf("Remaining %d; want a whole file", got)
	}
}

// TestRetentionPairsAsideFiles: with max_files 2, a file rotated aside
// is kept while the file that counts after it is kept, and removed with
// it; it never counts itself.
func TestRetentionPairsAsideFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(n int) {
		for range n {
			if _, err := f.Write([]byte(strings.Repeat("y", 1023) + "\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	names := func() []string {
		files, _ := rotate.List(dir, "audit.log")
		var out []string
		for _, fi := range files {
			out = append(out, fi.Name)
		}
		return out
	}
	write(10)
	if err := f.RotateForDelete(); err != nil {
		t.Fatal(err)
	}
	aside := names()[1]
	write(1024) // 10 + 1014 fill the file; the rest starts the next
	waitFor(t, "retention", func() bool { return len(names()) == 3 })
	got := names()
	if got[2] != aside {
		t.Fatalf("files %v; want the live file, the one that counts, and %s", got, aside)
	}
	write(1024) // one more rotation: the file that counts goes, and the file aside with it
	waitFor(t, "retention", func() bool {
		n := names()
		return len(n) == 2 && n[1] != got[1]
	})
	for _, n := range names() {
		if n == aside {
			t.Fatalf("%s kept after the file that counts with it was removed: %v", aside, names())
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRetentionByAgePairsAsideFiles: by max_age_days too, a file rotated
// aside goes with the file that counts after it: kept while that one is
// young (its lines are that file's head), removed with it.
func TestRetentionByAgePairsAsideFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	name := func(daysAgo int) string {
		return "audit-" + now.Add(-time.Duration(daysAgo)*24*time.Hour).Format("2006-01-02T15-04-05.000") + ".log"
	}
	for _, n := range []string{"audit.log", name(2), name(4), name(5), name(6), name(7)} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("{}\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	record := `{"file":"` + name(4) + `","bytes":3}` + "\n" + `{"file":"` + name(6) + `","bytes":3}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, rotate.AsideFile), []byte(record), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, MaxAgeDays: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []string{"audit.log", name(2), name(4)} // 4 days old, but it goes with the 2-day-old file
	waitFor(t, "retention at open", func() bool {
		files, _ := rotate.List(dir, "audit.log")
		if len(files) != len(want) {
			return false
		}
		for i, fi := range files {
			if fi.Name != want[i] {
				t.Fatalf("kept %v; want %v", files, want)
			}
		}
		return true
	})
	// The record forgets the file removed, keeps the one kept.
	waitFor(t, "the record pruned", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, rotate.AsideFile))
		return bytes.Contains(data, []byte(name(4))) && !bytes.Contains(data, []byte(name(6)))
	})
}
