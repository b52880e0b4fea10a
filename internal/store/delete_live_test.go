package store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// heldFile is the live file as a reader holding it sees it: its
// descriptor, its identity and its bytes then.
type heldFile struct {
	fd    *os.File
	fi    os.FileInfo
	bytes []byte
}

func holdLive(t *testing.T, dir string) heldFile {
	t.Helper()
	fd, err := os.Open(filepath.Join(dir, "audit.log"))
	mustDo(t, err)
	t.Cleanup(func() { fd.Close() })
	fi, err := fd.Stat()
	mustDo(t, err)
	data, err := io.ReadAll(fd)
	mustDo(t, err)
	return heldFile{fd: fd, fi: fi, bytes: data}
}

// assertUnchanged checks that the held file still reads as it did, from
// its start, and is no longer the live file.
func (h heldFile) assertUnchanged(t *testing.T, dir string) {
	t.Helper()
	now := make([]byte, len(h.bytes)+1)
	n, err := h.fd.ReadAt(now, 0)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(now[:n], h.bytes) {
		t.Fatalf("the file a reader holds changed: %d bytes, had %d", n, len(h.bytes))
	}
	if fi, err := os.Stat(filepath.Join(dir, "audit.log")); err == nil && os.SameFile(fi, h.fi) {
		t.Fatal("audit.log is still the file the delete cut from")
	}
}

// asides reads the record of the files a delete rotated aside.
func asides(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, rotate.AsideFile))
	if os.IsNotExist(err) {
		return nil
	}
	mustDo(t, err)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if i := strings.Index(line, `"file":"`); i >= 0 {
			rest := line[i+len(`"file":"`):]
			names = append(names, rest[:strings.IndexByte(rest, '"')])
		}
	}
	slices.Sort(names)
	return names
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	mustDo(t, err)
	var out []string
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}

// TestDeleteRotatesLiveAside: a delete that cuts from the live file,
// with the writer running, leaves the file a reader holds as it was; the
// path names a fresh file that holds only what the writer writes next,
// and the rotated name (recorded in .delete-rotations) holds what the
// live file held minus the lines deleted.
func TestDeleteRotatesLiveAside(t *testing.T) {
	l := openLog(t, false)
	ids := l.emitN(t, 0, 300)
	l.flush(t)
	held := holdLive(t, l.dir)
	f := filter(t, "level=error")
	before := fileLines(t, filepath.Join(l.dir, "audit.log"))
	var kept []string
	for _, line := range before {
		if lf := event.NewLineFilter(f); lf.Match([]byte(strings.TrimSuffix(line, "\n"))) != event.Matched {
			kept = append(kept, line)
		}
	}
	n, err := l.store(store.Options{}).Delete(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n != len(before)-len(kept) {
		t.Fatalf("deleted %d, want %d", n, len(before)-len(kept))
	}
	held.assertUnchanged(t, l.dir)
	if fi, err := os.Stat(filepath.Join(l.dir, "audit.log")); err != nil || fi.Size() != 0 {
		t.Fatalf("audit.log after the delete: %v, %v; want a new empty file", fi, err)
	}
	names := asides(t, l.dir)
	if len(names) != 1 {
		t.Fatalf("%s lists %v; want the one file rotated aside", rotate.AsideFile, names)
	}
	if got := fileLines(t, filepath.Join(l.dir, names[0])); !slices.Equal(got, kept) {
		t.Fatalf("%s holds %d lines; want the %d the live file held minus those deleted", names[0], len(got), len(kept))
	}
	// The writer goes on in the new file.
	more := l.emitN(t, 300, 5)
	l.flush(t)
	got := fileLines(t, filepath.Join(l.dir, "audit.log"))
	if len(got) != 5 || !strings.Contains(got[0], more[0]) {
		t.Fatalf("the new live file holds %d lines; want the 5 written after the delete", len(got))
	}
	// A delete that cuts from rotated files only rotates nothing.
	if _, err := l.store(store.Options{}).DeleteID(context.Background(), ids[0]); err != nil {
		t.Fatal(err)
	}
	if names := asides(t, l.dir); len(names) != 1 {
		t.Fatalf("a delete from a rotated file rotated the live file: %v", names)
	}
}

// TestDeleteFromDirMovesLiveAside: with no writer (`trailcar events
// delete --dir`), the live file is renamed aside the same way and the
// copy rewritten; nothing is made at the live path.
func TestDeleteFromDirMovesLiveAside(t *testing.T) {
	dir := t.TempDir()
	ids := writeEvents(t, filepath.Join(dir, "audit.log"), 50)
	held := holdLive(t, dir)
	st := store.New(store.Options{Dir: dir, RefuseSealed: true})
	if n, err := st.DeleteID(context.Background(), ids[10]); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	held.assertUnchanged(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "audit.log")); !os.IsNotExist(err) {
		t.Fatalf("audit.log after a delete with no writer: %v; want none until a writer opens the dir", err)
	}
	names := asides(t, dir)
	if len(names) != 1 {
		t.Fatalf("%s lists %v", rotate.AsideFile, names)
	}
	got := fileLines(t, filepath.Join(dir, names[0]))
	if len(got) != 49 || slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, ids[10]) }) {
		t.Fatalf("%s holds %d lines; want 49 without the one deleted", names[0], len(got))
	}
}

// TestDeleteKeepsRetention: with max_files, the same writes into two dirs,
// one of them cut by deletes (from the live file, twice in a row, and from
// rotated files), keep exactly the same lines but those deleted: a
// delete's rotation makes retention drop nothing it would have kept, and
// keep nothing it would have dropped. Lines are written one at a time
// (rotation happens between the same two lines in both dirs).
func TestDeleteKeepsRetention(t *testing.T) {
	open := func() (*rotate.File, string) {
		dir := t.TempDir()
		f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1, MaxFiles: 3})
		mustDo(t, err)
		t.Cleanup(func() { f.Close() })
		return f, dir
	}
	plain, plainDir := open()
	cut, cutDir := open()
	st := store.New(store.Options{Dir: cutDir, Lock: cut, RotateLive: func(context.Context) error { return cut.RotateForDelete() }})
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var gen event.IDs
	var ids []string
	deleted := map[string]bool{}
	del := func(id string) {
		t.Helper()
		if n, err := st.DeleteID(ctx, id); err != nil || n != 1 {
			t.Fatalf("delete %s: %d, %v", id, n, err)
		}
		deleted[id] = true
	}
	const total = 16000 // about 7 MiB: files rotated 7 times, 3 kept
	for i := range total {
		e := testEvent(i)
		e.ID, e.Time = gen.New(), start.Add(time.Duration(i)*time.Millisecond)
		e.Message = fmt.Sprintf("event %d %s", i, strings.Repeat("m", 100+i%300)) // lines of many sizes
		line, err := event.AppendJSON(nil, e)
		mustDo(t, err)
		for _, f := range []*rotate.File{plain, cut} {
			if _, err := f.Write(line); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, e.ID)
		switch {
		case i%2300 == 1000: // from the live file
			del(ids[i-3])
		case i%2300 == 1001: // again: a second file rotated aside in a row
			del(ids[i-1])
		case i%2300 == 2000: // from the live file, or a rotated one
			del(ids[i-1500])
		}
		if i%4000 == 3999 || i == total-1 {
			assertSameRetention(t, plainDir, cutDir, deleted)
		}
	}
	if len(asides(t, cutDir)) == 0 {
		t.Fatal("no file rotated aside is kept: the test exercised nothing")
	}
}

// assertSameRetention waits until retention is done in both dirs (it
// runs after each rotation, on its own goroutine) and checks that cut
// holds the lines of plain but those deleted.
func assertSameRetention(t *testing.T, plainDir, cutDir string, deleted map[string]bool) {
	t.Helper()
	idsOf := func(dir string) []string {
		var out []string
		for _, line := range allLines(t, dir) {
			if id, ok := event.LineID(line); ok {
				out = append(out, string(id))
			}
		}
		slices.Sort(out)
		return out
	}
	var want, got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		want = slices.DeleteFunc(idsOf(plainDir), func(id string) bool { return deleted[id] })
		got = idsOf(cutDir)
		if slices.Equal(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("with deletes %d lines kept, without %d (minus those deleted); files: %v / %v",
			len(got), len(want), names(t, cutDir), names(t, plainDir))
	}
}

func names(t *testing.T, dir string) []string {
	files, err := rotate.List(dir, "audit.log")
	mustDo(t, err)
	var out []string
	for _, f := range files {
		out = append(out, fmt.Sprintf("%s(%d)", f.Name, f.Size))
	}
	return out
}
