// Package rotate hands out the live audit file as an io.Writer that rotates
// by size (and by age: age.go), keeps a bounded number of files, and covers
// what lumberjack (which does the renaming) leaves open:
//
//   - sizes are whole MiB: Options.MaxSizeMB is an int, and the size check
//     is done here, before each write, so a write never splits a line across
//     files (callers write whole lines) and every rotation is seen;
//   - lumberjack starts one goroutine per Logger and never stops it: a File
//     makes exactly one Logger and reuses it across reopens;
//   - lumberjack opens new files without O_APPEND and does not notice the
//     file being deleted or replaced from outside: File checks the live
//     file's identity before each write and every CheckEvery, and reopens;
//   - compression and retention run here, under a lock that WithRotated
//     callers share, so rewriting a rotated file (deleting events) can
//     never race with compressing or removing it; a delete never rewrites
//     the live file, it rotates it aside first (RotateForDelete).
package rotate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

const mib = 1 << 20

// Options configure a File. Zero values are noted per field.
type Options struct {
	Dir      string // created if missing
	Filename string // the live file's name, e.g. audit.log
	// MaxSizeMB is the size in MiB at which the live file is rotated; it
	// must be at least 1.
	MaxSizeMB int
	// MaxFiles is how many files are kept: the live one and MaxFiles-1
	// rotated ones. 0 keeps every file.
	MaxFiles int
	// MaxAgeDays removes rotated files older than this; 0: no age limit.
	MaxAgeDays int
	// Compress gzips rotated files.
	Compress bool
	// FileMode is the permission of audit files; 0 means 0640.
	FileMode os.FileMode
	// CheckEvery is how often the live file is checked for having been
	// deleted or replaced from outside; 0 means 250ms.
	CheckEvery time.Duration
	// RotateEvery also rotates the live file once its first line is this
	// old (age.go); 0: by size only.
	RotateEvery time.Duration
	// HandOff says the caller ends each file itself and rotates it with
	// Rotate (internal/audit with integrity on: a sealed file ends with
	// its checkpoint). A file due by age is then not rotated by Write or
	// the watch; Remaining reports 0 instead, and the caller, which asks
	// it before each line, ends the file and calls Rotate.
	HandOff bool
	// Now is the clock the live file's age is measured by; nil means
	// time.Now. Tests move it.
	Now func() time.Time
	// OnRotate, if set, is called after each rotation, without locks held.
	OnRotate func()
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
}

// File is the live audit file. It is safe for concurrent use, but is meant
// to have one writer that writes whole lines.
type File struct {
	opts Options
	path string
	max  int64
	log  *slog.Logger
	lj   *lumberjack.Logger

	mu         sync.Mutex // guards the live file: writes, rotation, reopen
	open       bool       // lj has the live file open and info/size describe it
	info       os.FileInfo
	size       int64
	lastRotate int64 // unix ms of the last rotation
	closed     bool
	// carried is what files rotated aside by deletes since the last
	// ordinary rotation held of the live file (aside.go): it counts toward
	// the live file's size.
	carried int64

	asides *asideRecord

	age liveAge // when the live file began (age.go); guarded by mu

	filesMu sync.Mutex // guards rotated files: compression, retention, rewrites

	retain chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup

	onReplaced atomic.Pointer[func(reason string)]
	onMoved    atomic.Pointer[func()]

	// held is the live file as opened, read-only, for its link count
	// (lumberjack keeps its own descriptor to itself): a live file whose
	// path is gone or names another file, but which is still linked, was
	// moved away (logrotate), not deleted.
	held *os.File
	// moved: the live file was moved away and is still written where it
	// went, until Reopen (the writer seals it first: docs/integrity.md
	// "Outside rotation").
	moved bool
}

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("audit file closed")

// Open opens (or creates) the live file and starts the background checks.
// A live file whose last line is torn (the process died mid-write) is
// truncated to its last complete line.
func Open(opts Options) (*File, error) {
	if opts.MaxSizeMB < 1 {
		return nil, fmt.Errorf("open audit file: max size %d MiB, want at least 1", opts.MaxSizeMB)
	}
	if opts.FileMode == 0 {
		opts.FileMode = 0o640
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open audit file: %w", err)
	}
	f := &File{
		opts:   opts,
		path:   filepath.Join(opts.Dir, opts.Filename),
		max:    int64(opts.MaxSizeMB) * mib,
		log:    opts.Logger,
		retain: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		asides: &asideRecord{dir: opts.Dir},
	}
	// Retention is done here, not by lumberjack: MaxBackups, MaxAge and
	// Compress stay zero so its mill does nothing.
	f.lj = &lumberjack.Logger{Filename: f.path, MaxSize: opts.MaxSizeMB}
	f.refuseNonRegular() // before anything opens the path
	if err := f.repairTornTail(); err != nil {
		return nil, err
	}
	if err := f.loadCarried(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	_, _, err := f.ensureOpen()
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f.done.Add(2)
	go f.watch()
	go f.retainLoop()
	f.retain <- struct{}{} // apply retention to what an earlier run left
	return f, nil
}

// Path returns the live file's path.
func (f *File) Path() string { return f.path }

// MaxWrite is the largest write accepted: the rotation size.
func (f *File) MaxWrite() int { return int(f.max) }

// Write writes p, which must be whole lines, to the live file, rotating
// first when p would make the file larger than the maximum size. On error
// nothing of p remains in the file (a partial write is truncated away), so
// the caller may retry p as a whole.
func (f *File) Write(p []byte) (int, error) {
	if int64(len(p)) > f.max {
		return 0, fmt.Errorf("write audit file: %d bytes is more than the maximum file size %d", len(p), f.max)
	}
	f.mu.Lock()
	rotated, replaced, n, err := f.writeLocked(p)
	f.mu.Unlock()
	f.notify(rotated, replaced)
	return n, err
}

func (f *File) writeLocked(p []byte) (rotated bool, replaced string, n int, err error) {
	if f.closed {
		return false, "", 0, ErrClosed
	}
	if f.open {
		replaced = f.checkReplaced()
	}
	rotated, reopened, err := f.ensureOpen()
	replaced = cmpOr(replaced, reopened)
	if err != nil {
		return rotated, replaced, 0, err
	}
	// A file moved away is not ours to rotate.
	if !f.moved && (f.size+f.carried+int64(len(p)) > f.max || !f.opts.HandOff && f.dueByAge()) {
		switch {
		case f.size > 0:
			if err := f.rotate(); err != nil {
				return rotated, replaced, 0, err
			}
			rotated = true
		case f.carried > 0:
			if err := f.endEmptyLive(); err != nil {
				return rotated, replaced, 0, fmt.Errorf("rotate audit file: %w", err)
			}
		}
	}
	n, err = f.lj.Write(p)
	if err != nil {
		// Never leave a torn line: cut the file back to where this write
		// started, and let the next write reopen and re-read the size.
		if n > 0 {
			if terr := truncateNoFollow(f.path, f.size); terr != nil {
				f.log.Error("truncate torn audit write", "path", f.path, "err", terr)
			}
		}
		f.closeLive()
		return rotated, replaced, 0, fmt.Errorf("write audit file: %w", err)
	}
	f.size += int64(n)
	f.noteWrite(int64(n))
	return rotated, replaced, n, nil
}

// notify runs the callbacks for what a locked section found.
func (f *File) notify(rotated bool, replaced string) {
	if rotated {
		select {
		case f.retain <- struct{}{}:
		default:
		}
		if f.opts.OnRotate != nil {
			f.opts.OnRotate()
		}
	}
	if replaced == reasonMoved {
		if fn := f.onMoved.Load(); fn != nil && *fn != nil {
			(*fn)()
		}
		return
	}
	if fn := f.onReplaced.Load(); replaced != "" && fn != nil && *fn != nil {
		(*fn)(replaced)
	}
}

// ensureOpen opens the live file if it is not open, and records its
// identity and size. It reports whether lumberjack rotated while opening
// (it does when the existing file is already full), and, as replaced,
// whether the path named another file than the one last written, for a
// reason other than a rotation: "deleted" (made again), "replaced", or
// "replaced by a symlink" (moved aside, never written through).
//
// The live file is always opened with O_APPEND: lumberjack makes new files
// without it, so such a file is closed and opened again, which lumberjack
// does with O_APPEND. A copytruncate from outside then leaves no hole.
func (f *File) ensureOpen() (rotated bool, replaced string, err error) {
	if f.open {
		return false, "", nil
	}
	replaced = f.refuseNonRegular()
	created, err := f.createLive()
	if err != nil {
		return false, replaced, err
	}
	if fi, err := os.Lstat(f.path); err == nil && fi.Size() >= f.max {
		if err := f.waitForFreshBackupName(); err != nil {
			return false, replaced, err
		}
		rotated = true
	}
	if _, err := f.lj.Write(nil); err != nil {
		return rotated, replaced, fmt.Errorf("open audit file: %w", err)
	}
	if rotated {
		// lumberjack rotated and made the new file itself, without
		// O_APPEND: open it again.
		f.lj.Close()
		if _, err := f.lj.Write(nil); err != nil {
			return rotated, replaced, fmt.Errorf("open audit file: %w", err)
		}
	}
	fi, err := os.Lstat(f.path)
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", f.path)
	}
	if err != nil {
		f.closeLive()
		return rotated, replaced, fmt.Errorf("open audit file: %w", err)
	}
	if replaced == "" && !rotated && f.info != nil {
		// Made here although a file was there before: deleted (its inode
		// number may well be the new file's, so SameFile cannot tell).
		switch {
		case created:
			replaced = "deleted"
		case !os.SameFile(fi, f.info):
			replaced = "replaced"
		}
		if replaced != "" {
			f.log.Warn("audit file was "+replaced+" from outside while it was closed", "path", f.path)
		}
	}
	if fi.Mode().Perm() != f.opts.FileMode {
		if err := chmodNoFollow(f.path, f.opts.FileMode); err != nil {
			f.log.Warn("chmod audit file", "path", f.path, "err", err)
		}
	}
	f.info, f.size, f.open = fi, fi.Size(), true
	f.hold(fi)
	if rotated {
		f.lastRotate = time.Now().UnixMilli()
		f.carried = 0
	}
	return rotated, replaced, nil
}

// rotate moves the live file aside and opens a new one.
func (f *File) rotate() error {
	if err := f.waitForFreshBackupName(); err != nil {
		return err
	}
	if err := f.lj.Rotate(); err != nil {
		f.closeLive()
		return fmt.Errorf("rotate audit file: %w", err)
	}
	f.lastRotate = time.Now().UnixMilli()
	f.carried = 0
	f.closeLive() // lumberjack made the new file without O_APPEND: open it again
	f.info = nil  // a new file, and no news
	_, _, err := f.ensureOpen()
	return err
}

// waitForFreshBackupName waits until the name lumberjack will give the
// rotated file (it has millisecond resolution) is not taken: lumberjack
// renames over an existing file, which would lose it. Two rotations in one
// millisecond, or a clock that stepped back, would otherwise do that.
func (f *File) waitForFreshBackupName() error {
	for i := 0; i < 2000; i++ {
		now := time.Now()
		name := filepath.Join(f.opts.Dir, backupName(f.opts.Filename, now))
		if now.UnixMilli() != f.lastRotate && !exists(name) && !exists(name+gzSuffix) {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("rotate audit file: no free name for the rotated file")
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// closeLive closes the live file (lumberjack's descriptor and the one
// held): the next write opens the path again.
func (f *File) closeLive() {
	f.lj.Close()
	if f.held != nil {
		f.held.Close()
		f.held = nil
	}
	f.open, f.moved = false, false
}

// Remaining is how many bytes the live file takes before the next write
// rotates it; with Options.HandOff, 0 once it is due by age, so that the
// caller ends it and calls Rotate.
func (f *File) Remaining() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opts.HandOff && f.dueByAge() {
		return 0
	}
	return max(0, f.max-f.size-f.carried)
}

// Rotate rotates the live file now, unless it is empty: a writer that
// seals files (internal/integrity) ends each with its checkpoint, and
// then moves on. An empty live file that goes on from files a delete
// rotated aside ends there (endEmptyLive).
func (f *File) Rotate() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	rotated, replaced, err := f.ensureOpen()
	switch {
	case err != nil || f.moved:
	case f.size > 0:
		err = f.rotate()
		rotated = err == nil
	case f.carried > 0:
		err = f.endEmptyLive()
	}
	f.mu.Unlock()
	f.notify(rotated, replaced)
	return err
}

// loadCarried finds what files rotated aside by deletes hold of the live
// file (aside.go), for an earlier run's.
func (f *File) loadCarried() error {
	files, err := List(f.opts.Dir, f.opts.Filename)
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	marks, err := f.asides.load()
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	f.carried, _, _ = liveHead(files, marks, f.opts.Filename)
	return nil
}

// Sync flushes the live file to disk.
func (f *File) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return syncPath(f.path)
}

func syncPath(path string) error {
	fd, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("sync audit file: %w", err)
	}
	defer fd.Close()
	if err := fd.Sync(); err != nil {
		return fmt.Errorf("sync audit file: %w", err)
	}
	return nil
}

// WithRotated runs fn while no rotated file is compressed or removed, so fn
// may rewrite rotated files. Rotation itself may still happen: it only adds
// a new rotated file.
func (f *File) WithRotated(fn func() error) error {
	f.filesMu.Lock()
	defer f.filesMu.Unlock()
	return fn()
}

// Close syncs and closes the live file and stops the background work.
func (f *File) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	serr := syncPath(f.path)
	cerr := f.lj.Close()
	f.closeLive()
	f.mu.Unlock()
	close(f.stop)
	f.done.Wait()
	if errors.Is(serr, os.ErrNotExist) {
		serr = nil
	}
	return errors.Join(serr, cerr)
}

// createLive creates the live file with the configured mode when missing,
// so that lumberjack (which would create it 0600, without O_APPEND) opens
// an existing file, which it does with O_APPEND. It reports whether it
// created the file.
func (f *File) createLive() (created bool, err error) {
	fd, err := openNoFollow(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.opts.FileMode)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open audit file: %w", err)
	}
	if err := fd.Chmod(f.opts.FileMode); err != nil { // the umask may have taken bits away
		f.log.Warn("chmod audit file", "path", f.path, "err", err)
	}
	return true, fd.Close()
}

// chmodNoFollow sets the mode of the file at path, never of a symlink's
// target.
func chmodNoFollow(path string, mode os.FileMode) error {
	fd, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer fd.Close()
	return fd.Chmod(mode)
}

// truncateNoFollow cuts the file at path to size, never a symlink's target.
func truncateNoFollow(path string, size int64) error {
	fd, err := openNoFollow(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer fd.Close()
	return fd.Truncate(size)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// repairTornTail truncates the live file after its last newline.
func (f *File) repairTornTail() error {
	fd, err := openNoFollow(f.path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	end := fi.Size()
	buf := make([]byte, 64<<10)
	for pos := end; pos > 0; {
		n := int64(len(buf))
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := fd.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return fmt.Errorf("check audit file tail: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := pos + int64(i) + 1
			if keep == end {
				return nil
			}
			f.log.Warn("audit file ended in a torn line; truncating it", "path", f.path, "bytes", end-keep)
			return fd.Truncate(keep)
		}
	}
	f.log.Warn("audit file held one torn line; truncating it", "path", f.path, "bytes", end)
	return fd.Truncate(0)
}
