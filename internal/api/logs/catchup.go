package logs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/rotate"
)

// drain sends the complete lines of the current file after the offset:
// what was appended to it after the tail's last read, before it was
// rotated away.
func (f *follower) drain() error {
	br := bufio.NewReaderSize(io.NewSectionReader(f.seg.fd, f.seg.off, 1<<62), chunk)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return f.out.flush() // EOF, or a torn last line that never completes
		}
		if err := f.send(line[:len(line)-1]); err != nil {
			return err
		}
		f.seg.off += int64(len(line))
	}
}

// catchUp sends the files rotated since the current one, oldest first,
// and makes the live file the current one, waiting for it to exist (the
// writer recreates a deleted live file on its next write).
func (f *follower) catchUp(ctx context.Context) error {
	tick := time.NewTicker(f.check)
	defer tick.Stop()
	for {
		moved, err := f.catchUpOnce()
		if err != nil || moved {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			return errShutdown
		case <-tick.C:
		}
		if f.pathNamesSegment() {
			return nil // the same file after one check: a failing tail does not spin
		}
	}
}

// catchUpOnce makes one pass: it opens the file the live path names,
// sends the files rotated before it (oldest first) that hold lines after
// the last one sent, and makes it the current file. moved is false when
// there is no live file yet, or it is still the current one.
//
// The live file is opened before the files are listed, so every file
// rotated before it became live is in the list; if it was itself rotated
// meanwhile, the list shows it as rotated, and files rotated after it are
// left for the next pass.
func (f *follower) catchUpOnce() (moved bool, err error) {
	fd, err := openRegular(f.path)
	if err != nil {
		return false, nil // deleted, not recreated yet
	}
	info, err := fd.Stat()
	if err != nil {
		fd.Close()
		return false, err
	}
	if os.SameFile(info, f.seg.info) {
		// Still the same file: truncated in place, or the tail failed.
		fd.Close()
		if info.Size() < f.seg.off {
			f.seg.off, err = resumeOffset(f.seg.fd, f.last)
		}
		return false, err
	}
	if err := f.sendRotatedBefore(info); err != nil {
		fd.Close()
		return false, err
	}
	off, err := resumeOffset(fd, f.last)
	if err != nil {
		fd.Close()
		return false, err
	}
	f.closeOwned()
	f.seg, f.owned = segment{fd: fd, info: info, off: off}, true
	return true, nil
}

// sendRotatedBefore sends, oldest first, the rotated files older than
// next (the file about to be followed) that hold lines after the last one
// sent.
func (f *follower) sendRotatedBefore(next os.FileInfo) error {
	files, err := f.h.list()
	if err != nil {
		return err
	}
	lastTime, timed := lineTime(f.last)
	for i := len(files) - 1; i >= 0; i-- {
		info := files[i]
		if info.Live || isFile(info.Path, next) {
			return nil
		}
		// A rotated file's lines are older than its rotation, which its
		// name gives to the millisecond: one rotated at or before the
		// last line sent holds nothing new. Without event times (not an
		// audit file) only the live file is followed.
		if !timed || !info.Rotated.Add(time.Millisecond).After(lastTime) || isFile(info.Path, f.seg.info) {
			continue
		}
		if err := f.sendRotated(info); err != nil {
			return err
		}
	}
	return nil
}

// isFile reports whether path names the file fi describes.
func isFile(path string, fi os.FileInfo) bool {
	pfi, err := os.Lstat(path)
	return err == nil && os.SameFile(pfi, fi)
}

// sendRotated sends the lines of a rotated file that come after the last
// one sent. A file removed meanwhile (retention) is skipped: its lines are
// gone for everyone.
func (f *follower) sendRotated(info rotate.Info) error {
	fd, err := openRegular(info.Path)
	if errors.Is(err, os.ErrNotExist) && !info.Compressed {
		// Compressed since it was listed (the .gz is renamed into
		// place before the plain file is removed).
		info.Compressed = true
		fd, err = openRegular(info.Path + ".gz")
	}
	if err != nil {
		return nil
	}
	defer fd.Close()
	var r io.Reader = fd
	if info.Compressed {
		zr, err := gzip.NewReader(fd)
		if err != nil {
			return nil // not gzip after all: nothing we could send
		}
		defer zr.Close()
		r = zr
	} else if fi, err := fd.Stat(); err == nil {
		// Cheap check first: when its last line is not after the last
		// sent, none is.
		end, lastStart, err := completeEnd(fd, fi.Size())
		if err != nil {
			return err
		}
		lastLine := make([]byte, max(end-1-lastStart, 0))
		if _, err := fd.ReadAt(lastLine, lastStart); err != nil && err != io.EOF {
			return err
		}
		if !after(lastLine, f.last) {
			return nil
		}
	}
	return f.sendAfterLast(r)
}

// sendAfterLast sends the complete lines of r from the first one that
// comes after the last line sent.
func (f *follower) sendAfterLast(r io.Reader) error {
	br := bufio.NewReaderSize(r, chunk)
	skipping := true
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return f.out.flush()
		}
		text := line[:len(line)-1]
		if skipping && !after([]byte(text), f.last) {
			continue
		}
		skipping = false
		if err := f.send(text); err != nil {
			return err
		}
	}
}

// resumeOffset returns the offset of the first line of fd that comes after
// last, or the end of its complete lines when none does.
func resumeOffset(fd *os.File, last string) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(fd, 0, 1<<62), chunk)
	var off int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return off, nil // longer than any event: not one we sent
		}
		if err != nil {
			return off, nil
		}
		if after(line[:len(line)-1], last) {
			return off, nil
		}
		off += int64(len(line))
	}
}

// after reports whether line comes after last in an audit file. Audit lines
// are in eventTime order (README "One event, one line"), with the time at a fixed place: line
// comes after last when its time is later, or the same and it is another
// line. A line that is not an event, or any line when last is not one,
// counts as after: the stream then starts the file over.
func after(line []byte, last string) bool {
	lt, ok := event.LineTime([]byte(last))
	if !ok {
		return true
	}
	t, ok := event.LineTime(line)
	if !ok {
		return true
	}
	c := bytes.Compare(t, lt)
	return c > 0 || (c == 0 && string(line) != last)
}

// lineTime returns the eventTime of an encoded event line.
func lineTime(line string) (time.Time, bool) {
	text, ok := event.LineTime([]byte(line))
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(text))
	return t, err == nil
}
