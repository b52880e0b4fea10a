package rotate

import (
	"os"
	"strings"
	"time"
)

// Rotation by age (docs/configuration.md "Rotation by age"): with
// Options.RotateEvery set, the live file is also rotated once it has been
// begun that long. A file begins with its first line; a file found holding
// lines (at open, or after it was replaced or rewritten) was begun by the
// rotation that made the newest rotated file, so its age is taken from that
// file's name, and restarts of the process do not keep a file young for
// ever.

// liveAge is when the live file began, and which file that is: a live file
// that is not that one any more (rotated, replaced, rewritten) has its
// start found again.
type liveAge struct {
	of    os.FileInfo
	begun time.Time
}

// now is the clock of the age of the live file.
func (f *File) now() time.Time {
	if f.opts.Now != nil {
		return f.opts.Now()
	}
	return time.Now()
}

// dueByAge reports whether the live file holds lines and was begun
// RotateEvery ago or more. mu is held.
func (f *File) dueByAge() bool {
	if f.opts.RotateEvery <= 0 || !f.open || f.moved || f.size == 0 || f.info == nil { // a moved file is not ours to rotate
		return false
	}
	if f.age.of == nil || !os.SameFile(f.age.of, f.info) {
		f.age = liveAge{of: f.info, begun: f.startOfLive()}
	}
	return f.now().Sub(f.age.begun) >= f.opts.RotateEvery
}

// noteWrite starts the age of a file that just got its first line, n
// bytes. mu is held.
func (f *File) noteWrite(n int64) {
	if f.opts.RotateEvery > 0 && f.size == n && f.info != nil && f.carried == 0 {
		f.age = liveAge{of: f.info, begun: f.now()}
	}
}

// startOfLive is when the live file, found holding lines, was begun: the
// time of the rotation that made the newest rotated file (in its name),
// else, with no rotated file to tell, now. Files a delete rotated aside
// are passed over: the live file goes on from them (aside.go).
func (f *File) startOfLive() time.Time {
	now := f.now()
	files, err := List(f.opts.Dir, f.opts.Filename)
	if err != nil {
		return now
	}
	marks, _ := f.asides.load()
	for _, fi := range files { // newest first
		if _, aside := marks[strings.TrimSuffix(fi.Name, gzSuffix)]; !fi.Live && !aside {
			if fi.Rotated.After(now) { // a clock that stepped back
				return now
			}
			return fi.Rotated
		}
	}
	return now
}

// rotateIfOld rotates the live file if it is due by age, unless the
// caller ends files itself (Options.HandOff); the watch calls it, so a
// file nothing is written to is rotated on time too. It reports whether
// it rotated. mu is held.
func (f *File) rotateIfOld() bool {
	if f.closed || f.opts.HandOff || !f.dueByAge() {
		return false
	}
	if err := f.rotate(); err != nil {
		f.log.Error("rotate audit file by age", "path", f.path, "err", err)
		return false
	}
	return true
}
