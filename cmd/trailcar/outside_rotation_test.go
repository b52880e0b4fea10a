package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestOutsideRotation: a real sidecar (rotation and gzip on) whose live
// file logrotate rotates as it really runs (create + delaycompress +
// postrotate HUP): mv audit.log audit.log.1, SIGHUP (Reopen), and at the
// next rotation audit.log.1 is moved on and compressed, into the dir or
// elsewhere. verify says rotated-out, exit 0, also against a witness of
// every checkpoint; a live file unlinked, truncated or overwritten is
// missing, exit 1.
func TestOutsideRotation(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	setup := func(t *testing.T) (*sidecartest.Sidecar, string, func(n int)) {
		cfg := sidecartest.Config(t, up.URL)
		cfg.ActivityTracker.MaxSizeMB, cfg.ActivityTracker.Compress = 1, true
		cfg.Integrity.Interval = time.Second
		s := sidecartest.Start(t, cfg)
		send := func(n int) {
			for i := range n {
				sidecartest.Do(t, "POST", fmt.Sprintf("%s/api/v3/widgets/%d/%s", s.ProxyURL(), i, strings.Repeat("p", 300)), "")
			}
		}
		return s, cfg.ActivityTracker.Dir, send
	}
	live := func(dir string) string { return filepath.Join(dir, "audit.log") }
	verify := func(t *testing.T, dir string, args ...string) (int, string) {
		code, out, errOut := evRun(t, "", append([]string{"verify", "--dir", dir}, args...)...)
		return code, out + errOut
	}

	t.Run("logrotate create, delaycompress, HUP", func(t *testing.T) {
		s, dir, send := setup(t)
		elsewhere := t.TempDir()
		send(4000) // past 1 MiB: a rotation of trailcar's own first
		// First run of logrotate: mv, create (an empty file, as logrotate's
		// create does), HUP.
		mustRename(t, live(dir), filepath.Join(dir, "audit.log.1"))
		os.WriteFile(live(dir), nil, 0o640)
		if err := s.Sidecar.Reopen(); err != nil {
			t.Fatal(err)
		}
		send(300)
		// Second run: the older one moves on and is compressed now
		// (delaycompress), then the live file goes as before.
		mustRename(t, filepath.Join(dir, "audit.log.1"), filepath.Join(dir, "audit.log.2"))
		gzipFile(t, filepath.Join(dir, "audit.log.2"), filepath.Join(dir, "audit.log.2.gz"))
		mustRename(t, live(dir), filepath.Join(dir, "audit.log.1"))
		os.WriteFile(live(dir), nil, 0o640)
		if err := s.Sidecar.Reopen(); err != nil {
			t.Fatal(err)
		}
		send(300)
		// This time the copy is compressed elsewhere.
		gzipFile(t, filepath.Join(dir, "audit.log.1"), filepath.Join(elsewhere, "audit.log.1.gz"))
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}

		lines := sidecartest.ParseLines(t, "audit.log", mustRead(t, live(dir)))
		if len(lines) == 0 || lines[0].Type != integrity.ReopenedType || lines[0].DetailsMap["reason"] != "moved" ||
			lines[0].DetailsMap["moved_to"] != "audit.log.1" {
			t.Fatalf("the new live file does not start with the reopen record: %+v", lines[:min(2, len(lines))])
		}
		code, out := verify(t, dir)
		if code != 0 || strings.Count(out, "rotated-out") != 1 || !strings.Contains(out, "intact") {
			t.Fatalf("verify: exit %d\n%s", code, out)
		}

		// Every checkpoint ever written, as a webhook receiver would have
		// them: those in the files moved away are rotated out, not missing.
		witness := filepath.Join(t.TempDir(), "witness.jsonl")
		var b strings.Builder
		for _, text := range []string{readGzip(t, filepath.Join(dir, "audit.log.2.gz")), readGzip(t, filepath.Join(elsewhere, "audit.log.1.gz")), allText(t, dir)} {
			for _, l := range sidecartest.ParseLines(t, "witness", []byte(text)) {
				if l.Type == integrity.CheckpointType {
					b.WriteString(l.Raw + "\n")
				}
			}
		}
		os.WriteFile(witness, []byte(b.String()), 0o600)
		if code, out := verify(t, dir, "--witness", witness); code != 0 {
			t.Fatalf("verify --witness: exit %d\n%s", code, out)
		}

		// A file trailcar rotated itself, deleted, is no file moved away:
		// the reopen record says which checkpoints stayed in the dir.
		files, _ := filepath.Glob(filepath.Join(dir, "audit-*.log*"))
		if len(files) < 2 {
			t.Fatalf("want two rotated files: %v", files)
		}
		os.Remove(files[len(files)-1]) // the newest: the one before the move
		if code, out := verify(t, dir); code != 1 || !strings.Contains(out, "missing") || !strings.Contains(out, "rotated-out") {
			t.Fatalf("verify after deleting a rotated file: exit %d\n%s", code, out)
		}
	})

	t.Run("moved away, noticed by the watch before any HUP", func(t *testing.T) {
		s, dir, send := setup(t)
		send(50)
		moved := filepath.Join(t.TempDir(), "moved.log")
		mustRename(t, live(dir), moved)
		sidecartest.Eventually(t, "the reopen record", func() bool {
			data, _ := os.ReadFile(live(dir))
			return strings.Contains(string(data), integrity.ReopenedType)
		})
		send(20)
		// An interval checkpoint in the new file, which the delete then
		// re-seals (waited for: under load it may take longer than the
		// interval).
		sidecartest.Eventually(t, "a checkpoint in the new file", func() bool {
			data, _ := os.ReadFile(live(dir))
			_, after, _ := strings.Cut(string(data), integrity.ReopenedType)
			return strings.Contains(after, integrity.CheckpointType)
		})
		// An audited delete rewrites the new file, whose chain starts
		// from the reopen record.
		if code, out, errOut := evRun(t, "", "events", "delete", "--server", s.AdminURL(), "/api/v3/widgets/1/*"); code != 0 || out != "Deleted 1 events\n" { // the other is in the file moved away
			t.Fatalf("delete: exit %d %s%s", code, out, errOut)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		old := sidecartest.ParseLines(t, "moved.log", mustRead(t, moved))
		if last := old[len(old)-1]; last.Type != integrity.CheckpointType {
			t.Errorf("the moved file does not end sealed: %+v", last)
		}
		if code, out := verify(t, dir); code != 0 || !strings.Contains(out, "rotated-out") || !strings.Contains(out, "resealed") {
			t.Fatalf("verify: exit %d\n%s", code, out)
		}
	})

	t.Run("HUP with the file in place", func(t *testing.T) {
		s, dir, send := setup(t)
		send(20)
		if err := s.Sidecar.Reopen(); err != nil {
			t.Fatal(err)
		}
		send(20)
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		lines := sidecartest.WithoutCheckpoints(sidecartest.ReadLines(t, dir, "audit.log"))
		if len(sidecartest.OfType(lines, integrity.ReopenedType)) != 1 {
			t.Errorf("want one reopen record in the same file: %d", len(sidecartest.OfType(lines, integrity.ReopenedType)))
		}
		if code, out := verify(t, dir); code != 0 || strings.Contains(out, "rotated-out") {
			t.Fatalf("verify: exit %d\n%s", code, out)
		}
	})

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, path string)
	}{
		{"unlinked", func(t *testing.T, path string) { os.Remove(path) }},
		{"truncated (copytruncate)", func(t *testing.T, path string) {
			os.WriteFile(path+".1", mustRead(t, path), 0o640)
			os.Truncate(path, 0)
		}},
		{"overwritten (renamed over)", func(t *testing.T, path string) {
			os.WriteFile(path+".new", nil, 0o640)
			mustRename(t, path+".new", path)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir, send := setup(t)
			send(50)
			time.Sleep(1200 * time.Millisecond) // an interval checkpoint
			send(5)
			tc.tamper(t, live(dir))
			if err := s.Sidecar.Reopen(); err != nil {
				t.Fatal(err)
			}
			send(20)
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			code, out := verify(t, dir)
			if code != 1 || !strings.Contains(out, "missing") || strings.Contains(out, "rotated-out") || !strings.Contains(out, "TAMPERED") {
				t.Fatalf("verify: exit %d\n%s", code, out)
			}
		})
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// gzipFile compresses from into to and removes from, as logrotate's
// compress does.
func gzipFile(t *testing.T, from, to string) {
	t.Helper()
	data := mustRead(t, from)
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	os.Remove(from)
}

func readGzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// allText is every line of the audit files in dir, oldest file first.
func allText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range sidecartest.ReadLines(t, dir, "") {
		b.WriteString(l.Raw + "\n")
	}
	return b.String()
}
