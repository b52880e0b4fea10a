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

// TestCopytruncateLeavesNoHole: logrotate's copytruncate empties the live
// file in place, after a rotation too (lumberjack makes the new file
// without O_APPEND). The next line must start the file: no hole of NUL
// bytes, no line glued to one, and the truncation is reported.
func TestCopytruncateLeavesNoHole(t *testing.T) {
	f := open(t, rotate.Options{CheckEvery: time.Hour})
	reasons := make(chan string, 4)
	f.NotifyReplaced(func(r string) { reasons <- r })
	writeLines(t, f, 0, 2000, 600, 50) // at least one rotation: the live file is lumberjack's new one
	if err := os.Truncate(f.Path(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("{\"after\":true}\n")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.IndexByte(data, 0) >= 0 || string(data) != "{\"after\":true}\n" {
		t.Fatalf("live file after copytruncate and one write: %d bytes, %.80q", len(data), data)
	}
	select {
	case r := <-reasons:
		if r != "truncated" {
			t.Errorf("reported %q, want truncated", r)
		}
	default:
		t.Error("the truncation was not reported")
	}
}

// TestSymlinkAtLivePathIsNotFollowed: a symlink planted where the live
// file belongs is moved aside; nothing is written through it, and its
// target's content and mode stay as they were.
func TestSymlinkAtLivePathIsNotFollowed(t *testing.T) {
	for _, when := range []string{"at start", "while running"} {
		t.Run(when, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(t.TempDir(), "precious")
			if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			live := filepath.Join(dir, "audit.log")
			plant := func() {
				os.Remove(live)
				if err := os.Symlink(target, live); err != nil {
					t.Fatal(err)
				}
			}
			if when == "at start" {
				plant()
			}
			f := open(t, rotate.Options{Dir: dir, CheckEvery: time.Hour})
			reasons := make(chan string, 4)
			f.NotifyReplaced(func(r string) { reasons <- r })
			if when == "while running" {
				writeLines(t, f, 0, 1, 10, 1)
				plant()
			}
			writeLines(t, f, 1, 3, 10, 1)
			if data, _ := os.ReadFile(target); string(data) != "keep me\n" {
				t.Fatalf("the symlink's target was written: %q", data)
			}
			if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
				t.Fatalf("the symlink's target mode changed to %v", fi.Mode().Perm())
			}
			if fi, err := os.Lstat(live); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("live path: %v, %v; want a regular file", fi, err)
			}
			if when == "while running" {
				if r := <-reasons; !strings.Contains(r, "replaced") {
					t.Errorf("reported %q", r)
				}
			}
			files, _ := rotate.List(dir, "audit.log")
			if len(files) != 1 {
				t.Errorf("listed %d files, want only the live one (the link is kept under a dot-name)", len(files))
			}
		})
	}
}
