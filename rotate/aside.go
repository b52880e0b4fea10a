package rotate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/durable"
)

// Rotations for a delete (docs/store.md "Deletes"): a delete never
// rewrites the live file; it rotates it aside first and rewrites the
// rotated copy. Such a rotation must not change what retention keeps, so
// the file it makes is the head of a file the live one goes on with:
//
//   - it does not count toward MaxFiles, and is removed together with the
//     file that counts and holds the rest of its lines: the next newer one
//     that counts (the live file's next ordinary rotation), so with it
//     by MaxAgeDays too; while that is the live file it is kept;
//   - its size before the delete still counts toward the live file's
//     MaxSizeMB, and its age toward RotateEvery: the live file rotates
//     where it would have rotated without the delete, so every later file
//     ends where it would have ended.
//
// Which files these are, with the size each had when it was rotated, is
// kept in AsideFile, a dot-file of the log dir (List never lists it),
// written through a temporary file, synced and renamed.

// AsideFile is the name, in the log dir, of the record of the files made
// by a delete's rotation.
const AsideFile = ".delete-rotations"

// aside is one file made by a delete's rotation.
type aside struct {
	File  string `json:"file"`  // its name when rotated (without .gz)
	Bytes int64  `json:"bytes"` // its size then, before the delete cut from it
}

// asideRecord reads and writes AsideFile; one per process and dir, and
// its mutex orders the File's own writes (a rotation for a delete, and
// retention pruning the record).
type asideRecord struct {
	mu  sync.Mutex
	dir string
}

// load returns the files recorded, by name.
func (r *asideRecord) load() (map[string]int64, error) {
	fd, err := os.Open(filepath.Join(r.dir, AsideFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", AsideFile, err)
	}
	defer fd.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(fd)
	for sc.Scan() {
		var a aside
		if json.Unmarshal(sc.Bytes(), &a) != nil || a.File == "" || strings.ContainsAny(a.File, `/\`) {
			continue // a torn or foreign line says nothing
		}
		out[a.File] = a.Bytes
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", AsideFile, err)
	}
	return out, nil
}

// save replaces the record with files: temporary file, fsync, rename,
// and the dir synced.
func (r *asideRecord) save(files map[string]int64) error {
	if len(files) == 0 {
		err := os.Remove(filepath.Join(r.dir, AsideFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write %s: %w", AsideFile, err)
		}
		return durable.SyncDir(r.dir)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for name, size := range files {
		if err := enc.Encode(aside{File: name, Bytes: size}); err != nil {
			return fmt.Errorf("write %s: %w", AsideFile, err)
		}
	}
	return durable.WriteFile(filepath.Join(r.dir, AsideFile), buf.Bytes(), 0o600)
}

// add records name, of size bytes, as made by a delete's rotation.
func (r *asideRecord) add(name string, size int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := r.load()
	if err != nil {
		return err
	}
	files[name] = size
	return r.save(files)
}

// remove forgets names: such a file now counts as any other.
func (r *asideRecord) remove(names ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := r.load()
	if err != nil {
		return err
	}
	changed := false
	for _, name := range names {
		if _, ok := files[name]; ok {
			delete(files, name)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return r.save(files)
}

// prune forgets the files that are gone and older than the newest
// rotated file that counts: those no longer weigh on the live file's size
// (carried), nor on retention.
func (r *asideRecord) prune(present map[string]bool, newestCounting time.Time, prefix, ext string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := r.load()
	if err != nil {
		return err
	}
	changed := false
	for name := range files {
		when, _, ok := parseBackupName(name, prefix, ext)
		if !ok {
			continue // another live file's, sharing the dir
		}
		if !present[name] && !when.After(newestCounting) {
			delete(files, name)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return r.save(files)
}

// liveHead is what of the live file was rotated aside by deletes since
// its last ordinary rotation: the records newer than the newest rotated
// file that counts (present, or removed because a delete left them
// empty), their bytes when rotated (carried), their names, and the newest
// of them still present ("" if none).
func liveHead(files []Info, marks map[string]int64, filename string) (carried int64, head []string, newestPresent string) {
	prefix, ext := splitName(filename)
	var counting time.Time
	for _, fi := range files { // newest first
		if fi.Live {
			continue
		}
		if _, ok := marks[strings.TrimSuffix(fi.Name, gzSuffix)]; !ok {
			counting = fi.Rotated
			break
		}
		if newestPresent == "" {
			newestPresent = strings.TrimSuffix(fi.Name, gzSuffix)
		}
	}
	for name, size := range marks {
		if when, _, ok := parseBackupName(name, prefix, ext); ok && when.After(counting) {
			carried += size
			head = append(head, name)
		}
	}
	return carried, head, newestPresent
}

// RotateForDelete rotates the live file aside for a delete that would cut
// from it (docs/store.md "Deletes"), unless it is empty: it is renamed to
// a rotated name and recorded in AsideFile, and a new live file is
// opened. The caller ends the file first (the audit writer seals it with
// its checkpoint), and then rewrites the rotated copy, never the live
// file: a reader holding the old file sees it unchanged, and a tailer
// following the path sees an ordinary rotation.
func (f *File) RotateForDelete() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	rotated, replaced, err := f.ensureOpen()
	if err == nil && f.size > 0 && !f.moved {
		err = f.rotateAside()
		rotated = rotated || err == nil
	}
	f.mu.Unlock()
	f.notify(rotated, replaced)
	return err
}

// rotateAside renames the live file to a fresh rotated name, as
// lumberjack would, recorded first as a delete's rotation (a crash in
// between leaves a record of no file, which retention forgets), and
// opens a new live file that goes on with its size and age. mu is held.
func (f *File) rotateAside() error {
	if err := f.waitForFreshBackupName(); err != nil {
		return err
	}
	now := time.Now()
	name := backupName(f.opts.Filename, now)
	begun, aged := f.liveBegun()
	if err := f.asides.add(name, f.size); err != nil {
		return fmt.Errorf("rotate audit file for a delete: %w", err)
	}
	size := f.size
	f.closeLive()
	if err := os.Rename(f.path, filepath.Join(f.opts.Dir, name)); err != nil {
		f.asides.remove(name)
		return fmt.Errorf("rotate audit file for a delete: %w", err)
	}
	if err := durable.SyncDir(f.opts.Dir); err != nil {
		f.log.Warn("sync audit dir after a rotation", "dir", f.opts.Dir, "err", err)
	}
	f.lastRotate = now.UnixMilli()
	f.carried += size
	f.info = nil // a new file, and no news
	if _, _, err := f.ensureOpen(); err != nil {
		return err
	}
	if aged {
		f.age = liveAge{of: f.info, begun: begun}
	}
	return nil
}

// liveBegun is when the live file began, if its age is kept (RotateEvery).
// mu is held.
func (f *File) liveBegun() (time.Time, bool) {
	if f.opts.RotateEvery <= 0 || f.info == nil {
		return time.Time{}, false
	}
	if f.age.of == nil || !os.SameFile(f.age.of, f.info) {
		f.age = liveAge{of: f.info, begun: f.startOfLive()}
	}
	return f.age.begun, true
}

// endEmptyLive ends a live file that holds no line of its own but goes on
// from files rotated for a delete, when it is due (by size or age): the
// newest of those files then counts as the file that ends here, as it
// would have without the delete, and nothing is rotated. mu is held.
func (f *File) endEmptyLive() error {
	files, err := List(f.opts.Dir, f.opts.Filename)
	if err != nil {
		return err
	}
	marks, err := f.asides.load()
	if err != nil {
		return err
	}
	// The newest file of the head counts from now on, and the records of
	// files of the head a delete removed are forgotten with it: the file
	// that counts is the one they went with.
	_, head, newest := liveHead(files, marks, f.opts.Filename)
	present := map[string]bool{}
	for _, fi := range files {
		present[strings.TrimSuffix(fi.Name, gzSuffix)] = true
	}
	var forget []string
	for _, name := range head {
		if name == newest || !present[name] {
			forget = append(forget, name)
		}
	}
	if err := f.asides.remove(forget...); err != nil {
		return err
	}
	f.carried = 0
	f.age = liveAge{}
	return nil
}

// MoveAside is a delete's rotation when no writer runs (`trailcar events
// delete --dir`): the live file of dir, if it holds anything, is renamed
// to a fresh rotated name and recorded in AsideFile, as a running File's
// RotateForDelete does. The next writer to open dir makes a new live file.
// It returns the rotated name, "" when there was nothing to move.
func MoveAside(dir, filename string) (string, error) {
	path := filepath.Join(dir, filename)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("rotate audit file for a delete: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("rotate audit file for a delete: %s is not a regular file", path)
	}
	if fi.Size() == 0 {
		return "", nil
	}
	var name string
	for i := 0; ; i++ {
		name = backupName(filename, time.Now())
		if !exists(filepath.Join(dir, name)) && !exists(filepath.Join(dir, name+gzSuffix)) {
			break
		}
		if i == 2000 {
			return "", errors.New("rotate audit file for a delete: no free name for the rotated file")
		}
		time.Sleep(time.Millisecond)
	}
	r := &asideRecord{dir: dir}
	if err := r.add(name, fi.Size()); err != nil {
		return "", fmt.Errorf("rotate audit file for a delete: %w", err)
	}
	if err := os.Rename(path, filepath.Join(dir, name)); err != nil {
		r.remove(name)
		return "", fmt.Errorf("rotate audit file for a delete: %w", err)
	}
	return name, durable.SyncDir(dir)
}
