package logs_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/api/logs"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/rotate"
)

func openAudit(t *testing.T, dir string) *rotate.File {
	return openAuditCompress(t, dir, false)
}

func openAuditCompress(t *testing.T, dir string, compress bool) *rotate.File {
	t.Helper()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: liveName, MaxSizeMB: 1, Compress: compress, CheckEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func writeLines(t *testing.T, f *rotate.File, lines []string) {
	t.Helper()
	if _, err := f.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
}

func TestFollowTailThenAppended(t *testing.T) {
	dir := mkdir(t)
	f := openAudit(t, dir)
	ids := &event.IDs{}
	start := time.Now().UTC().Add(-time.Minute) // events are older than the rotations that follow them
	old := eventLines(t, ids, start, 0, 5)
	writeLines(t, f, old)
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName)})
	s := follow(t, http.DefaultClient, srv.URL+"/api/v3/logs/audit.log?tail=2&follow=true")
	s.expect(t, old[3:]...)
	more := eventLines(t, ids, start, 5, 3)
	writeLines(t, f, more[:1])
	writeLines(t, f, more[1:])
	s.expect(t, more...)
}

// TestFollowAcrossRotation writes about 3.5 MiB in batches through the
// real rotating file (1 MiB files): the stream must deliver every line,
// once, in order, across the rotations, also when it is several rotations
// behind and the files it has not read yet were compressed. (nxadm/tail's
// own ReOpen loses the lines written to a file after its last read.)
func TestFollowAcrossRotation(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			dir := mkdir(t)
			f := openAuditCompress(t, dir, compress)
			ids := &event.IDs{}
			start := time.Now().UTC().Add(-time.Minute) // events are older than the rotations that follow them
			marker := eventLines(t, ids, start, 0, 1)
			writeLines(t, f, marker)
			srv := serve(t, &logs.Handler{Store: trail(dir, liveName), Poll: 20 * time.Millisecond})
			s := follow(t, http.DefaultClient, srv.URL+"/api/v3/logs/audit.log?follow=true")
			s.expect(t, marker...) // the whole file, then what is appended
			lines := eventLines(t, ids, start, 1, 12000)
			for i := 0; i < len(lines); i += 40 {
				writeLines(t, f, lines[i:min(i+40, len(lines))])
			}
			if compress {
				sidecartest.Eventually(t, "rotated files compressed", func() bool {
					files, _ := rotate.List(dir, liveName)
					return len(files) >= 4 && files[1].Compressed && files[2].Compressed
				})
			}
			if files, _ := rotate.List(dir, liveName); len(files) < 4 {
				t.Fatalf("want at least 3 rotations, have %d files", len(files))
			}
			s.expect(t, lines...)
		})
	}
}

// TestFollowRewrittenInPlace: the live file rewritten in place, a copy
// renamed over it (as trailcar's deletes once did, and a dir written then
// may still show): the stream must not send the kept lines again.
func TestFollowRewrittenInPlace(t *testing.T) {
	dir := mkdir(t)
	f := openAudit(t, dir)
	ids := &event.IDs{}
	start := time.Now().UTC().Add(-time.Minute) // events are older than the rotations that follow them
	lines := eventLines(t, ids, start, 0, 10)
	writeLines(t, f, lines[:5])
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName), Poll: 20 * time.Millisecond})
	s := follow(t, http.DefaultClient, srv.URL+"/api/v3/logs/audit.log?tail=1&follow=true")
	s.expect(t, lines[4])
	writeLines(t, f, lines[5:7])
	s.expect(t, lines[5:7]...)
	if err := f.Close(); err != nil { // the writer stops while the file is rewritten
		t.Fatal(err)
	}
	kept := append(append([]string{}, lines[:2]...), lines[3:7]...) // line 2 deleted
	tmp := filepath.Join(dir, ".rewrite")
	if err := os.WriteFile(tmp, []byte(strings.Join(kept, "\n")+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, liveName)); err != nil {
		t.Fatal(err)
	}
	f = openAudit(t, dir)
	writeLines(t, f, lines[7:])
	s.expect(t, lines[7:]...)
}

// TestFollowDeletedFromOutside: the writer recreates a deleted live file;
// the stream goes on with the new one from its start.
func TestFollowDeletedFromOutside(t *testing.T) {
	dir := mkdir(t)
	f := openAudit(t, dir)
	ids := &event.IDs{}
	start := time.Now().UTC().Add(-time.Minute) // events are older than the rotations that follow them
	lines := eventLines(t, ids, start, 0, 6)
	writeLines(t, f, lines[:2])
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName), Poll: 20 * time.Millisecond})
	s := follow(t, http.DefaultClient, srv.URL+"/api/v3/logs/audit.log?follow=true")
	s.expect(t, lines[:2]...)
	if err := os.Remove(filepath.Join(dir, liveName)); err != nil {
		t.Fatal(err)
	}
	sidecartest.Eventually(t, "the writer recreates the live file", func() bool {
		_, err := os.Stat(filepath.Join(dir, liveName))
		return err == nil
	})
	writeLines(t, f, lines[2:])
	s.expect(t, lines[2:]...)
}

// TestFollowEndsAtShutdown: closing Done ends every stream.
func TestFollowEndsAtShutdown(t *testing.T) {
	dir := mkdir(t)
	writeFile(t, filepath.Join(dir, liveName), "one\n", time.Time{})
	done := make(chan struct{})
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName), Done: done})
	a := follow(t, http.DefaultClient, srv.URL+"/api/v3/logs/audit.log?follow=true")
	b := follow(t, http.DefaultClient, srv.URL+"/api/v3/logs/audit.log?follow=true&tail=1")
	a.expect(t, "one")
	b.expect(t, "one")
	appendFile(t, filepath.Join(dir, liveName), "two\n")
	a.expect(t, "two")
	b.expect(t, "two")
	close(done)
	a.waitEnd(t)
	b.waitEnd(t)
}

// TestFollowPlainLinesAcrossRotation: lines that are not events are followed
// too; after a rotation the new file is sent from its start.
func TestFollowPlainLinesAcrossRotation(t *testing.T) {
	dir := mkdir(t)
	live := filepath.Join(dir, liveName)
	writeFile(t, live, "a\n", time.Time{})
	srv := serve(t, &logs.Handler{Store: trail(dir, liveName), Poll: 20 * time.Millisecond})
	s := follow(t, http.DefaultClient, srv.URL+"/api/v3/logs/audit.log?follow=true")
	s.expect(t, "a")
	appendFile(t, live, "b\nc")  // c is still being written
	appendFile(t, live, "\nd\n") // now it is whole
	if err := os.Rename(live, filepath.Join(dir, "audit-2026-11-22T08-15-30.123.log")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, live, "e\n")
	s.expect(t, "b", "c", "d", "e")
}
