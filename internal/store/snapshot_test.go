package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// readPath is one way the trail is read, reduced to the ids of the events
// it saw (or, for verify, the report).
type readPath struct {
	name string
	read func(t *testing.T, st *store.Store, target trailFile) (ids []string, rep *integrity.Report, err error)
}

// readPaths are every read of the trail: the queries, get, the file
// route, follow, delete (which reads before it writes), and verify and
// the chain's recovery in the integrity package.
var readPaths = []readPath{
	{"list", func(t *testing.T, st *store.Store, _ trailFile) ([]string, *integrity.Report, error) {
		var lines [][]byte
		for _, l := range pageAll(t, st, nil, 1000) {
			lines = append(lines, []byte(l))
		}
		return lineIDs(lines), nil, nil
	}},
	{"each", func(t *testing.T, st *store.Store, _ trailFile) ([]string, *integrity.Report, error) {
		var lines [][]byte
		_, err := st.Each(context.Background(), nil, nil, func(l []byte) error {
			lines = append(lines, append([]byte(nil), l...))
			return nil
		})
		return lineIDs(lines), nil, err
	}},
	{"get", func(t *testing.T, st *store.Store, target trailFile) ([]string, *integrity.Report, error) {
		line, err := st.Get(context.Background(), target.ids[len(target.ids)/2])
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		return lineIDs([][]byte{line}), nil, err
	}},
	{"file", func(t *testing.T, st *store.Store, target trailFile) ([]string, *integrity.Report, error) {
		f, err := st.Open(target.name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		r, err := f.Text(0)
		if err != nil {
			return nil, nil, err
		}
		defer r.Close()
		lines, err := readLines(r)
		return lineIDs(lines), nil, err
	}},
	{"follow", func(t *testing.T, st *store.Store, _ trailFile) ([]string, *integrity.Report, error) {
		var lines [][]byte
		err := st.Follow(context.Background(), store.FollowOptions{Since: time.Unix(1, 0), Until: time.Now(), Poll: 10 * time.Millisecond},
			func(l []byte) error {
				lines = append(lines, append([]byte(nil), l...))
				return nil
			})
		return lineIDs(lines), nil, err
	}},
	{"delete", func(t *testing.T, st *store.Store, target trailFile) ([]string, *integrity.Report, error) {
		id := target.ids[len(target.ids)/2]
		n, err := st.DeleteID(context.Background(), id)
		if errors.Is(err, store.ErrNotFound) || n == 0 {
			return nil, nil, nil
		}
		return []string{id}, nil, err
	}},
	{"verify", func(t *testing.T, st *store.Store, _ trailFile) ([]string, *integrity.Report, error) {
		sn, err := st.Snapshot()
		if err != nil {
			return nil, nil, err
		}
		defer sn.Close()
		rep, err := integrity.Verify(context.Background(), sn, nil)
		return nil, &rep, err
	}},
	{"recover", func(t *testing.T, st *store.Store, _ trailFile) ([]string, *integrity.Report, error) {
		sn, err := st.Snapshot()
		if err != nil {
			return nil, nil, err
		}
		defer sn.Close()
		_, err = integrity.Recover(sn)
		return nil, nil, err
	}},
}

// trailFile is one file of the pristine trail and the ids of its events.
type trailFile struct {
	name string
	ids  []string
}

// sealedTrail writes a sealed trail as the sidecar does, with a real
// rotating file (1 MiB files, not compressed) and writer, and returns its
// files, newest first.
func sealedTrail(t *testing.T, dir string) []trailFile {
	t.Helper()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := audit.New(audit.Options{File: f, Seal: integrity.NewSealer(integrity.State{}, key, "audit.log"),
		CheckpointEvery: 20 * time.Millisecond, Service: "console", Host: "h1", Metrics: metrics.New(prometheus.NewRegistry())})
	for i := range 4500 { // ~700 bytes each: 3 rotations
		if err := w.Emit(testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	infos, err := rotate.List(dir, "audit.log")
	if err != nil || len(infos) < 3 {
		t.Fatalf("%d files, %v: want rotations", len(infos), err)
	}
	var out []trailFile
	for _, info := range infos {
		r, err := os.Open(info.Path)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := readLines(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, trailFile{name: info.Name, ids: lineIDs(lines)})
	}
	return out
}

// TestEveryReadPathMeetsChanges changes the files between a listing and
// the opens that follow it, once, in each of the ways the files change
// under a reader, and runs every read path through it:
//
//   - a rotated file swapped for a symlink to a file outside the dir: no
//     path follows it (the secret events are never seen), and the file
//     reads as gone (verify says the trail is not intact);
//   - a rotated file compressed, as rotate compresses it (the .gz renamed
//     into place, then the plain file removed): every path reads its .gz;
//   - the live file rotated as lumberjack rotates it (renamed to a backup
//     name, a new empty live file created): every path sees every event.
func TestEveryReadPathMeetsChanges(t *testing.T) {
	pristine := t.TempDir()
	files := sealedTrail(t, pristine)
	var all []string
	for _, f := range files {
		all = append(all, f.ids...)
	}
	rotated, live := files[1], files[0] // the newest rotated file; the live one
	secret := filepath.Join(t.TempDir(), "secret.log")
	secretIDs := writeEvents(t, secret, 50)

	scenarios := []struct {
		name   string
		target trailFile // the file the change is made to
		change func(t *testing.T, dir string)
		want   []string // the ids every path sees (all of them, in any order)
		// inFile is what the file route reads under the target's name
		// after the change.
		inFile []string
		intact bool
	}{
		{"symlink swapped in", rotated, func(t *testing.T, dir string) {
			path := filepath.Join(dir, rotated.name)
			mustDo(t, os.Rename(path, filepath.Join(t.TempDir(), rotated.name)))
			mustDo(t, os.Symlink(secret, path))
		}, without(all, rotated.ids), nil, false},
		{"compressed between list and open", rotated, func(t *testing.T, dir string) {
			gzipFile(t, filepath.Join(dir, rotated.name))
		}, all, rotated.ids, true},
		{"rotated between list and open", live, func(t *testing.T, dir string) {
			rotateLive(t, dir)
		}, all, nil, true}, // the live name names the new, empty file
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, p := range readPaths {
				t.Run(p.name, func(t *testing.T) {
					dir := copyDir(t, pristine)
					st := store.New(store.Options{Dir: dir})
					var once sync.Once
					changed := false
					store.AfterList(st, func() { once.Do(func() { sc.change(t, dir); changed = true }) })
					ids, rep, err := p.read(t, st, sc.target)
					if err != nil {
						t.Fatal(err)
					}
					if !changed {
						t.Fatal("the path listed no files")
					}
					if seen := intersect(ids, secretIDs); len(seen) > 0 {
						t.Fatalf("read %d events of the symlink's target", len(seen))
					}
					want := sc.want
					switch p.name {
					case "get", "delete": // one event of the target file
						want = intersect(want, sc.target.ids[len(sc.target.ids)/2:len(sc.target.ids)/2+1])
					case "file":
						want = sc.inFile
					case "verify":
						if rep.Intact != sc.intact {
							var b strings.Builder
							rep.WriteTable(&b)
							t.Fatalf("intact = %v, want %v:\n%s", rep.Intact, sc.intact, b.String())
						}
						return
					case "recover":
						return
					}
					if got, w := sorted(ids), sorted(want); !slices.Equal(got, w) {
						t.Fatalf("saw %d events, want %d (%d missing, %d extra)", len(got), len(w),
							len(without(w, got)), len(without(got, w)))
					}
				})
			}
		})
	}
}

// TestSnapshotGzFallback: a file compressed after it was listed is held
// as its .gz, and the snapshot says so.
func TestSnapshotGzFallback(t *testing.T) {
	dir := t.TempDir()
	files := sealedTrail(t, dir)
	target := files[len(files)-1] // the oldest
	st := store.New(store.Options{Dir: dir})
	var once sync.Once
	store.AfterList(st, func() { once.Do(func() { gzipFile(t, filepath.Join(dir, target.name)) }) })
	sn, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	info := sn.Info(sn.Len() - 1)
	if info.Name != target.name+".gz" || !info.Compressed {
		t.Fatalf("oldest file held as %+v, want its .gz", info)
	}
	r, err := sn.Text(sn.Len() - 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lines, err := readLines(r)
	if err != nil || !slices.Equal(lineIDs(lines), target.ids) {
		t.Fatalf("read %d events (%v), want the file's %d", len(lines), err, len(target.ids))
	}
}

// TestSymlinkNeverListed: a symlink under an audit file's name, there
// before any listing, is neither listed nor opened by name.
func TestSymlinkNeverListed(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret.log")
	writeEvents(t, secret, 5)
	name := "audit-2026-01-01T00-00-00.000.log"
	mustDo(t, os.Symlink(secret, filepath.Join(dir, name)))
	st := store.New(store.Options{Dir: dir})
	if _, err := st.Open(name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of a symlink: %v, want ErrNotFound", err)
	}
	sn, err := st.Snapshot()
	if err != nil || sn.Len() != 0 {
		t.Fatalf("snapshot of a dir holding only a symlink: %d files, %v", sn.Len(), err)
	}
	sn.Close()
}

// TestOldFilesOpenedByTheRule: past the newest 256 files a snapshot opens
// a file when it is first read, after the snapshot was taken, so no
// second listing catches a change there: the open itself must refuse a
// symlink swapped in and follow a compression.
func TestOldFilesOpenedByTheRule(t *testing.T) {
	const n = 300
	base := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	ids := event.IDs{Now: func() time.Time { return base }}
	var names []string
	var files [][]*event.Event
	var all []string
	for i := range n { // newest first: file i holds event n-1-i
		e := testEvent(n - 1 - i)
		e.ID, e.Time = ids.New(), base.Add(time.Duration(n-i)*time.Minute)
		all = append(all, e.ID)
		name := "audit.log"
		if i > 0 {
			name = "audit-" + e.Time.Add(time.Second).Format("2006-01-02T15-04-05.000") + ".log"
		}
		names, files = append(names, name), append(files, []*event.Event{e})
	}
	oldest, oldestID := names[n-1], all[n-1]
	secret := filepath.Join(t.TempDir(), "secret.log")
	secretIDs := writeEvents(t, secret, 5)

	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   []string
	}{
		{"symlink swapped in", func(t *testing.T, path string) {
			mustDo(t, os.Remove(path))
			mustDo(t, os.Symlink(secret, path))
		}, without(all, []string{oldestID})},
		{"compressed", func(t *testing.T, path string) { gzipFile(t, path) }, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFixture(t, dir, names, files)
			st := store.New(store.Options{Dir: dir})
			lists := 0
			store.AfterList(st, func() {
				if lists++; lists == 2 { // the snapshot's second listing: it is taken
					tt.change(t, filepath.Join(dir, oldest))
				}
			})
			var lines [][]byte
			_, err := st.Each(context.Background(), nil, nil, func(l []byte) error {
				lines = append(lines, append([]byte(nil), l...))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got := lineIDs(lines)
			if seen := intersect(got, secretIDs); len(seen) > 0 {
				t.Fatalf("read %d events of the symlink's target", len(seen))
			}
			if !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Fatalf("saw %d events, want %d", len(got), len(tt.want))
			}
		})
	}
}
