package rotate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The live file as others may meddle with it: deleted, truncated or
// replaced (reopened, and reported to NotifyReplaced), a symlink planted
// at its path (moved aside), or moved away by logrotate (kept open until
// Reopen, and reported to NotifyMoved: docs/integrity.md "Outside
// rotation").

// reasonMoved is what checkReplaced says of a live file moved away while
// a NotifyMoved callback is set: it is kept open and written, not
// reopened.
const reasonMoved = "moved"

// NotifyMoved sets fn to be called, without locks held, when the live
// file was found moved away (renamed, still linked: logrotate's rotation).
// While fn is set, such a file is kept open and written where it went
// until Reopen, so that the caller can end it as it wants (the audit
// writer seals it); without fn, it is reopened at once and reported to
// NotifyReplaced as deleted or replaced. nil removes it.
func (f *File) NotifyMoved(fn func()) { f.onMoved.Store(&fn) }

// Moved reports whether the live file was moved away and is still written
// where it went, waiting for Reopen.
func (f *File) Moved() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.moved
}

// NotifyReplaced sets fn to be called after the live file was found
// deleted or replaced from outside and was made again, without locks held;
// reason is "deleted" or "replaced". The audit writer sets it, to record
// the event itself. It replaces an earlier fn; nil removes it.
func (f *File) NotifyReplaced(fn func(reason string)) { f.onReplaced.Store(&fn) }

// refuseNonRegular moves aside whatever is at the live file's path if it
// is not a regular file (a symlink planted there, say), to a dot-name
// that keeps it for inspection, so that it is never written through. It
// reports the replacement.
func (f *File) refuseNonRegular() string {
	fi, err := os.Lstat(f.path)
	if err != nil || fi.Mode().IsRegular() {
		return ""
	}
	aside := filepath.Join(f.opts.Dir, fmt.Sprintf(".%s.refused-%d", f.opts.Filename, time.Now().UnixNano()))
	if err := os.Rename(f.path, aside); err != nil {
		f.log.Error("move aside what replaced the audit file", "path", f.path, "err", err)
		return ""
	}
	f.log.Warn("the audit file's path was not a regular file; moved it aside", "path", f.path, "aside", aside, "mode", fi.Mode().String())
	if fi.Mode()&os.ModeSymlink != 0 {
		return "replaced by a symlink"
	}
	return "replaced"
}

// checkReplaced reports "deleted", "replaced" or "truncated" when the path
// no longer names the file being written as it was left (a copytruncate
// empties it in place), and marks the file for reopening; or, with a
// NotifyMoved callback, reasonMoved when the file was moved away but is
// still linked: it is then kept open until Reopen.
func (f *File) checkReplaced() string {
	if f.moved {
		return "" // known, and written where it went until Reopen
	}
	fi, err := os.Lstat(f.path)
	reason := ""
	switch {
	case errors.Is(err, os.ErrNotExist):
		reason = "deleted"
	case err != nil:
		return "" // cannot tell; the write will report real trouble
	case !fi.Mode().IsRegular() || !os.SameFile(fi, f.info):
		reason = "replaced"
	case fi.Size() < f.size:
		reason = "truncated"
	default:
		return ""
	}
	if reason != "truncated" && f.stillLinked() {
		if fn := f.onMoved.Load(); fn != nil && *fn != nil {
			f.log.Info("audit file was moved away; sealing it before reopening", "path", f.path)
			f.moved = true
			return reasonMoved
		}
	}
	f.log.Warn("audit file was "+reason+" from outside; reopening", "path", f.path)
	f.closeLive()
	f.info = nil // reported here: the reopen is no news
	return reason
}

// hold opens the live file just opened (fi) a second time, read-only, to
// tell later a file moved away from one deleted. A file that is no longer
// fi by then is not held: it is checked at the next write.
func (f *File) hold(fi os.FileInfo) {
	fd, err := openNoFollow(f.path, os.O_RDONLY, 0)
	if err != nil {
		return
	}
	if hfi, err := fd.Stat(); err != nil || !os.SameFile(hfi, fi) {
		fd.Close()
		return
	}
	f.held = fd
}

// stillLinked reports whether the live file as opened still has a name
// somewhere (moved away, not deleted).
func (f *File) stillLinked() bool {
	if f.held == nil {
		return false
	}
	fi, err := f.held.Stat()
	if err != nil {
		return false
	}
	n, ok := links(fi)
	return ok && n > 0
}

// movedTo is the name in the live file's dir of the file held, if it was
// moved there (logrotate's audit.log.1); "" when it went elsewhere.
func (f *File) movedTo() string {
	if f.held == nil {
		return ""
	}
	hfi, err := f.held.Stat()
	if err != nil {
		return ""
	}
	entries, err := os.ReadDir(f.opts.Dir)
	if err != nil {
		return ""
	}
	for _, de := range entries {
		if de.Name() == f.opts.Filename || !de.Type().IsRegular() {
			continue
		}
		if fi, err := de.Info(); err == nil && os.SameFile(fi, hfi) {
			return de.Name()
		}
	}
	return ""
}

// watch notices the live file being deleted or replaced while nothing is
// written, so it is recreated and reported within CheckEvery.
func (f *File) watch() {
	defer f.done.Done()
	t := time.NewTicker(f.opts.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.mu.Lock()
		var replaced string
		var rotated bool
		if !f.closed {
			if f.open {
				replaced = f.checkReplaced()
			}
			// Reopen a file found replaced, and one closed by a failed
			// write (a file deleted meanwhile is noticed then, not only
			// at the next write that works).
			if !f.open {
				var reopened string
				var err error
				rotated, reopened, err = f.ensureOpen()
				replaced = cmpOr(replaced, reopened)
				if err != nil {
					f.log.Debug("reopen audit file", "path", f.path, "err", err)
				}
			}
			rotated = f.rotateIfOld() || rotated
		}
		f.mu.Unlock()
		f.notify(rotated, replaced)
	}
}

// Reopened says what Reopen found.
type Reopened struct {
	// Moved: the file closed had been moved away (still linked), not
	// deleted or replaced.
	Moved bool
	// MovedTo is its name when it was moved within the live file's dir.
	MovedTo string
}

// Reopen closes the live file and opens the path again (SIGHUP), e.g.
// after an outside tool moved it away. A live file found deleted,
// truncated or replaced meanwhile is reported to NotifyReplaced.
func (f *File) Reopen() (Reopened, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return Reopened{}, ErrClosed
	}
	var r Reopened
	var replaced string
	if f.open && !f.moved {
		if fi, err := os.Lstat(f.path); f.info != nil && (err != nil || !os.SameFile(fi, f.info)) && f.stillLinked() {
			f.moved = true // moved away just now: not yet noticed
		} else {
			replaced = f.checkReplaced()
		}
	}
	if f.moved {
		r = Reopened{Moved: true, MovedTo: f.movedTo()}
		f.info = nil // moved away: the file at the path (logrotate's create) is no news
	}
	f.closeLive()
	rotated, reopened, err := f.ensureOpen()
	replaced = cmpOr(replaced, reopened)
	f.mu.Unlock()
	f.notify(rotated, replaced)
	return r, err
}
