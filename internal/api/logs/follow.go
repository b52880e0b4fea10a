package logs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nxadm/tail"
)

// How a follow stream works, and why not tail's own ReOpen.
//
// nxadm/tail (v1.4.11) reads the appended lines and notices the file being
// renamed or deleted. Two of its behaviours rule out using it as is:
//
//   - Its inotify watcher is one per process, with one event channel per
//     path: several tails of the same file share that channel, so each
//     change wakes only one of them, and the first tail to stop closes the
//     channel and drops the watch for all the others (they stall, and the
//     shared watch count goes wrong). Followers of audit.log are many tails
//     of one path, so Poll is used: a stat every 250ms per follower, no
//     inotify watch, nothing shared, nothing left behind by Stop. Cleanup
//     is not called: it only removes inotify watches, and in Poll mode it
//     would start the shared inotify watcher just to remove nothing.
//   - With ReOpen, when the file is rotated it opens the new file without
//     reading what was appended to the old one since its last read: lines
//     written just before a rotation are lost.
//
// So a stream follows one file (one inode) at a time, with its own
// descriptor of that file and its own offset as the truth. A tail (Follow,
// Poll, CompleteLines, no ReOpen) reads from that offset and is stopped as
// soon as the path names another file; the stream then reads the rest of
// the old file through its descriptor, sends the files rotated since then
// (a slow client, or a burst, can be several rotations behind), oldest
// first, and goes on with the new live file. Where it goes on is decided
// by the last line sent (see catchUp), so a file rewritten in place (events
// deleted) is not sent again.

// errShutdown ends a stream when Done is closed.
var errShutdown = errors.New("shutting down")

// follow sends the live file (all of it, or its last n lines) and then
// every line appended to it, until the client leaves or Done is closed.
// It owns fd's position, not fd: the caller closes fd.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request, fd *os.File, n int) {
	fi, err := fd.Stat()
	if err != nil {
		h.internalError(w, "stat audit file", err)
		return
	}
	end, lastStart, err := completeEnd(fd, fi.Size())
	if err != nil {
		h.internalError(w, "read audit file", err)
		return
	}
	start := int64(0)
	if n > 0 {
		if start, err = lastLinesStart(fd, end, n); err != nil {
			h.internalError(w, "read audit file", err)
			return
		}
	}
	last := make([]byte, max(end-1-lastStart, 0))
	if _, err := fd.ReadAt(last, lastStart); err != nil && err != io.EOF {
		h.internalError(w, "read audit file", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy in front must not hold the stream back
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	f := &follower{
		h:     h,
		path:  filepath.Join(h.Dir, h.Filename),
		done:  h.Done,
		check: h.checkEvery(),
		out:   newStreamWriter(w, h.writeTimeout()),
		seg:   segment{fd: fd, info: fi, off: end},
		last:  string(last),
	}
	defer f.out.close()
	if err := f.out.copyFrom(io.NewSectionReader(fd, start, end-start)); err != nil {
		return
	}
	err = f.run(r.Context())
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errShutdown) {
		h.logger().Debug("follow stream ended", "path", f.path, "err", err)
	}
}

// follower is one follow stream.
type follower struct {
	h     *Handler
	path  string
	done  <-chan struct{}
	check time.Duration
	out   *streamWriter
	seg   segment
	owned bool   // seg.fd was opened here and is closed here
	last  string // the last line sent, without its newline
}

// segment is the file the path named when the stream reached it.
type segment struct {
	fd   *os.File
	info os.FileInfo
	off  int64 // how much of fd was sent; always just after a newline
}

// run follows file after file until the client leaves, Done is closed, or
// a write fails.
func (f *follower) run(ctx context.Context) error {
	defer f.closeOwned()
	for {
		if err := f.followSegment(ctx); err != nil {
			return err
		}
		if err := f.drain(); err != nil {
			return err
		}
		if err := f.catchUp(ctx); err != nil {
			return err
		}
	}
}

func (f *follower) closeOwned() {
	if f.owned && f.seg.fd != nil {
		f.seg.fd.Close()
	}
}

// followSegment sends the lines appended to the current file as the tail
// reads them. It returns nil when the tail can no longer be trusted to be
// reading that file: the path names another file, or the tail ended or
// reopened the path (it does on truncation); run then goes on from its own
// offset.
func (f *follower) followSegment(ctx context.Context) error {
	t, err := tail.TailFile(f.path, tail.Config{
		Location:      &tail.SeekInfo{Offset: f.seg.off, Whence: io.SeekStart},
		MustExist:     true, // opened now, so the check below covers it
		Follow:        true,
		Poll:          true,
		CompleteLines: true,
		Logger:        tail.DiscardingLogger, // not "Waiting for ... to appear" on stderr
	})
	if err != nil {
		return nil // the path is gone: catchUp waits for it
	}
	defer t.Stop()
	if !f.pathNamesSegment() {
		return nil // rotated between our open and the tail's
	}
	tick := time.NewTicker(f.check)
	defer tick.Stop()
	want := 1 // the tail numbers lines from 1, and again after a reopen
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			return errShutdown
		case <-tick.C:
			if !f.pathNamesSegment() {
				return nil
			}
		case line, ok := <-t.Lines:
			if !ok {
				return nil // the tail ended: the file is gone, or could not be read
			}
			more, err := f.sendLines(t.Lines, line, &want)
			if err != nil || !more {
				return err
			}
		}
	}
}

// sendLines sends line and the lines already waiting after it, with one
// flush. It reports false when the segment must end: the tail ended, or
// it reopened the path (it numbers lines from 1 again then).
func (f *follower) sendLines(lines <-chan *tail.Line, line *tail.Line, want *int) (more bool, err error) {
	for {
		if line.Num != *want || line.Err != nil {
			return false, f.out.flush()
		}
		*want++
		if err := f.send(line.Text); err != nil {
			return false, err
		}
		f.seg.off += int64(len(line.Text)) + 1
		var ok bool
		select {
		case line, ok = <-lines:
			if !ok {
				return false, f.out.flush()
			}
		default:
			return true, f.out.flush()
		}
	}
}

// pathNamesSegment reports whether the path still names the current file.
func (f *follower) pathNamesSegment() bool {
	fi, err := os.Lstat(f.path)
	return err == nil && os.SameFile(fi, f.seg.info)
}

// send sends one line (without its newline) and remembers it as the last.
func (f *follower) send(line string) error {
	if err := f.out.line(line); err != nil {
		return err
	}
	f.last = line
	return nil
}
