package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/rotate"
)

// The one follower of the audit files. Every stream of new lines goes
// through it: GET /api/v3/logs/{name}?follow=true (raw lines),
// GET /api/v3/events/stream and `trailcar events follow` (filtered events).
//
// It holds the live file open (its own descriptor, its own offset as the
// truth) and reads what is appended, a poll at a time. When the path names
// another file (rotated, or replaced by a delete's rewrite, or deleted and
// recreated) it reads the rest of the file it holds, then the rotated
// files that may hold lines written meanwhile (a slow reader can be
// several rotations behind; those files may be compressed by then), oldest
// first, then the new live file from its start. Lines it passed already
// are skipped by their (eventTime, id): eventTime is in text order within
// and across files, so "passed" is "older than the last line passed, or at
// its time with an id passed at that time". Lines that are not events have
// no place in that order: they are passed when read in the file being
// followed, and only the live file is followed until an event is seen.
//
// No goroutine, no inotify watch: each stream costs one descriptor and a
// stat per poll, and leaves nothing behind when it returns.

// FollowOptions say where a follow starts and how it waits.
type FollowOptions struct {
	// Where it starts. The zero value starts after the last complete line
	// there is. Whole sends the live file from its start first; Tail > 0
	// its last Tail lines; a non-zero Since every line with an eventTime at
	// or after Since, rotated files included. At most one may be set.
	Whole bool
	Tail  int
	Since time.Time
	// AfterTime and AfterIDs resume a follow right after the lines with
	// that eventTime (text, as written) and those ids, wherever they are
	// now: every line later than AfterTime is new, and one at AfterTime is
	// new unless its id is in AfterIDs (lines written in the same
	// microsecond share an eventTime). A shipper resumes from its saved
	// position this way (docs/shipping.md "Position and resume").
	// AfterTime excludes the other starts.
	AfterTime string
	AfterIDs  []string
	// Place, if set, is told the file and the byte offset just after each
	// line, before fn gets it: the live file's name, or a rotated file's
	// name without .gz, and the offset in its uncompressed bytes.
	Place func(file string, end int64)
	// Until, if set, ends the follow (nil) once every line written
	// before it has been read: at the first pass a second after it.
	Until time.Time
	// Poll is how often the files are checked; 0 means 250ms.
	Poll time.Duration
	// Wake, if set, returns a channel that is closed when something new
	// is written (*audit.Writer.Written), so lines arrive at once rather
	// than at the next poll.
	Wake func() <-chan struct{}
	// Done, when closed, ends the follow (shutdown); it returns
	// ErrShutdown.
	Done <-chan struct{}
	// Tick, if set, is called after each pass over the files, whether or
	// not it found lines: a stream flushes what fn wrote, and sends its
	// keep-alives, there. An error ends the follow.
	Tick func() error
}

// untilSettle is how long after Until a follow keeps reading: a line is
// stamped when its response completes and written a moment later.
const untilSettle = time.Second

// ErrShutdown ends a follow whose Done was closed.
var ErrShutdown = errors.New("shutting down")

// Follow calls fn with each complete line (without its newline) of the
// audit files from the start FollowOptions give, oldest first, each line
// once, until ctx ends (nil), Done closes (ErrShutdown), or fn or Tick
// fail (their error). line is valid only during the call.
func (st *Store) Follow(ctx context.Context, opts FollowOptions, fn func(line []byte) error) error {
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	fl := &follower{st: st, opts: opts, path: filepath.Join(st.opts.Dir, st.opts.Filename), fn: fn}
	defer fl.closeHeld()
	if err := fl.start(); err != nil {
		return fmt.Errorf("follow audit file: %w", err)
	}
	tick := time.NewTicker(opts.Poll)
	defer tick.Stop()
	for {
		var wake <-chan struct{}
		if opts.Wake != nil {
			wake = opts.Wake() // taken before the pass: a write during it wakes the next
		}
		if err := fl.pass(); err != nil {
			return err
		}
		if opts.Tick != nil {
			if err := opts.Tick(); err != nil {
				return err
			}
		}
		if !opts.Until.IsZero() && time.Since(opts.Until) >= untilSettle {
			return nil // nothing written from now on can be before Until
		}
		select {
		case <-ctx.Done():
			return nil
		case <-opts.Done:
			return ErrShutdown
		case <-tick.C:
		case <-wake:
		}
	}
}

// FollowEvents is Follow for events: fn gets the lines that are events
// matching f, in the encoder's form (a line written some other way, say
// by hand, is re-encoded), and every other line is skipped.
func (st *Store) FollowEvents(ctx context.Context, f *event.Filter, opts FollowOptions, fn func(line []byte) error) error {
	lf := event.NewLineFilter(f)
	var buf []byte
	return st.Follow(ctx, opts, func(line []byte) error {
		if lf.Match(line) != event.Matched {
			return nil
		}
		if ev := lf.Decoded(); ev != nil {
			buf, _ = event.AppendJSON(buf[:0], ev)
			line = buf[:len(buf)-1]
		}
		return fn(line)
	})
}

// follower is one follow in progress.
type follower struct {
	st   *Store
	opts FollowOptions
	path string
	fn   func([]byte) error

	held    *os.File    // the file being followed; nil while the path names none
	heldFI  os.FileInfo // its identity
	off     int64       // next byte of held to read; always a line start
	partial []byte      // bytes read after the last newline
	buf     []byte

	// The place of the last event passed: its eventTime, and the ids
	// passed at that time. lastTime is "" until an event is passed.
	lastTime string
	lastIDs  map[string]bool
	// passing says whether a line that is not an event is passed: it
	// follows the verdict on the event before it.
	passing bool

	// Where the line being passed ends, for opts.Place.
	atFile string
	atEnd  int64
}

// start opens the live file and positions the follow.
func (fl *follower) start() error {
	o := fl.opts
	fl.passing = true
	if o.AfterTime != "" {
		fl.lastTime, fl.lastIDs = o.AfterTime, map[string]bool{}
		for _, id := range o.AfterIDs {
			fl.lastIDs[id] = true
		}
		return fl.switchTo(nil)
	}
	if !o.Since.IsZero() {
		// Replay: every line at or after Since is new, wherever it is.
		fl.lastTime = event.TimeText(o.Since)
		return fl.switchTo(nil)
	}
	if err := fl.openLive(-1); err != nil || fl.held == nil {
		return err
	}
	end, err := completeEnd(fl.held, fl.off)
	if err != nil {
		return err
	}
	switch {
	case o.Whole:
		fl.off = 0
	case o.Tail > 0:
		fl.off, err = tailStart(fl.held, end, o.Tail)
	default:
		fl.off = end
		err = fl.placeAfterLastLine(end)
	}
	return err
}

// placeAfterLastLine makes the last complete line before end the last
// one passed, for a follow that starts at the end.
func (fl *follower) placeAfterLastLine(end int64) error {
	back := newBackLines(fl.held, end)
	line, _, ok, err := back.Next()
	if err != nil || !ok {
		return err
	}
	if t, id, ok := timeID(line); ok {
		fl.lastTime, fl.lastIDs = t, map[string]bool{id: true}
	}
	return nil
}

// openLive opens the file the live path names and reads it from off (-1:
// its size). A missing live file is not an error: the writer makes it.
func (fl *follower) openLive(off int64) error {
	fl.heldFI = nil
	f, fi, err := openRegular(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if off < 0 {
		off = fi.Size()
	}
	fl.held, fl.heldFI, fl.off, fl.partial = f, fi, off, fl.partial[:0]
	return nil
}

func (fl *follower) closeHeld() {
	if fl.held != nil {
		fl.held.Close()
		fl.held = nil
	}
}

// pass reads what was appended; if the path names another file now, it
// finishes the held one, catches up on the rotated files, and goes on
// with the new live file.
func (fl *follower) pass() error {
	if fl.held == nil {
		// No live file yet (or it was deleted and not made again).
		if err := fl.switchTo(nil); err != nil || fl.held == nil {
			return err
		}
		return fl.drain()
	}
	if err := fl.drain(); err != nil {
		return err
	}
	now, err := os.Lstat(fl.path)
	if err == nil && os.SameFile(now, fl.heldFI) {
		if now.Size() < fl.off {
			// Truncated in place (copytruncate): start it over; the
			// lines passed already are skipped by their place.
			fl.off, fl.partial = 0, fl.partial[:0]
		}
		return nil
	}
	if err := fl.drain(); err != nil { // what was written before the switch
		return err
	}
	// The old file stays open until the catch-up is done: while it is
	// open its inode cannot be reused by a file compression makes, which
	// would then pass for it and be skipped.
	old, oldFI := fl.held, fl.heldFI
	fl.held = nil
	err = fl.switchTo(oldFI)
	old.Close()
	if err != nil || fl.held == nil {
		return err
	}
	return fl.drain()
}

// switchTo makes the file the live path names now the one followed, from
// its start, after passing the rotated files that may hold lines written
// since the last one passed (done, the file just drained, is not read
// again). The live file is opened before the files are listed, so every
// file rotated before it became live is in the list; if it is rotated
// itself meanwhile, it is read as a rotated file and then from the held
// descriptor, and its lines passed already are skipped.
func (fl *follower) switchTo(done os.FileInfo) error {
	if err := fl.openLive(0); err != nil {
		return err
	}
	return fl.catchUp(done, fl.heldFI)
}

// catchUp passes, oldest first, the rotated files that may hold lines
// after the last one passed. A file rotated at or before that line (its
// name says when, to the millisecond) holds none; done is not read
// again, and live (nil when none), if it was rotated meanwhile, ends the
// catch-up: it is read from its descriptor, and newer files after it. Without a last event (lines that are not
// events, or nothing yet) there is no way to tell what is new, so nothing
// is read: only the live file is followed.
func (fl *follower) catchUp(done, live os.FileInfo) error {
	if fl.lastTime == "" {
		return nil
	}
	infos, err := fl.st.list()
	if err != nil {
		return err
	}
	last, err := time.Parse(time.RFC3339Nano, fl.lastTime)
	if err != nil {
		return nil
	}
	for i := len(infos) - 1; i >= 0; i-- {
		info := infos[i]
		if isFile(info.Path, live) {
			break // rotated since it was opened: it and what came after wait for the held descriptor and the next pass
		}
		if info.Live || !info.Rotated.Add(time.Millisecond).After(last) || isFile(info.Path, done) {
			continue
		}
		if err := fl.readRotated(info); err != nil {
			return err
		}
	}
	return nil
}

// readRotated passes the lines of a rotated file that come after the last
// one passed. A file removed meanwhile (retention) is skipped: its lines
// are gone for every reader.
func (fl *follower) readRotated(info rotate.Info) error {
	r, err := openText(info)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	fl.passing = false
	fl.atFile, fl.atEnd = strings.TrimSuffix(info.Name, ".gz"), 0
	err = forwardLines(r, func(line []byte) error {
		fl.atEnd += int64(len(line)) + 1 // an overlong line, skipped, is not counted: Place is for people, resuming goes by place in time
		return fl.line(line)
	})
	fl.passing = true
	return err
}

// isFile reports whether path names the file fi describes.
func isFile(path string, fi os.FileInfo) bool {
	if fi == nil {
		return false
	}
	pfi, err := os.Lstat(path)
	return err == nil && os.SameFile(pfi, fi)
}

// drain reads the held file to its end, passing each complete line.
func (fl *follower) drain() error {
	if cap(fl.buf) == 0 {
		fl.buf = make([]byte, 256<<10)
	}
	for {
		n, err := fl.held.ReadAt(fl.buf, fl.off)
		if n > 0 {
			if ferr := fl.feed(fl.buf[:n]); ferr != nil {
				return ferr
			}
			fl.off += int64(n)
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// feed splits data into lines, keeping an unended one for later. An
// overlong "line" (not an event: the writer bounds those) is dropped
// rather than held.
func (fl *follower) feed(data []byte) error {
	fl.atFile, fl.atEnd = fl.st.opts.Filename, fl.off
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(fl.partial)+len(data) <= maxLineLen {
				fl.partial = append(fl.partial, data...)
			} else {
				fl.partial = append(fl.partial[:0], "\x00"...) // poisoned: dropped at its newline
			}
			return nil
		}
		line := data[:i]
		if len(fl.partial) > 0 {
			fl.partial = append(fl.partial, line...)
			line = fl.partial
		}
		data = data[i+1:]
		fl.atEnd += int64(i) + 1
		var err error
		if len(line) == 0 || line[0] != 0 {
			err = fl.line(line)
		}
		fl.partial = fl.partial[:0]
		if err != nil {
			return err
		}
	}
}

// line passes one line to fn unless it was passed already.
func (fl *follower) line(line []byte) error {
	t, id, ok := timeID(line)
	if !ok {
		if !fl.passing {
			return nil
		}
		if fl.opts.Place != nil {
			fl.opts.Place(fl.atFile, fl.atEnd)
		}
		return fl.fn(line)
	}
	switch {
	case t < fl.lastTime, t == fl.lastTime && fl.lastIDs[id]:
		fl.passing = false
		return nil // passed already (a rotated file read again, or a rewrite)
	case t > fl.lastTime:
		fl.lastTime = t
		clear(fl.lastIDs)
	}
	if fl.lastIDs == nil {
		fl.lastIDs = map[string]bool{}
	}
	fl.lastIDs[id] = true
	fl.passing = true
	if fl.opts.Place != nil {
		fl.opts.Place(fl.atFile, fl.atEnd)
	}
	return fl.fn(line)
}

// timeID returns the eventTime and id of an event line, wherever in the
// line they are.
func timeID(line []byte) (t, id string, ok bool) {
	tt, ok := event.LineTime(line)
	if !ok {
		return "", "", false
	}
	ii, ok := event.LineID(line)
	if !ok {
		return "", "", false
	}
	return string(tt), string(ii), true
}
