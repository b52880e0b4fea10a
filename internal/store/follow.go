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
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/rotate"
)

// Follow calls fn with each event matching f that is written after
// Follow starts, oldest first, until ctx ends or fn fails. It polls the
// live file every poll (0 means 250ms). When the live file was rotated or
// replaced (a delete rewrote it) since the last poll, it reads the rest of
// the old one (held open), then the rotated files that may hold newer
// lines (several rotations may have happened), then the new live file;
// lines it already passed are skipped by their eventTime and id.
func (st *Store) Follow(ctx context.Context, f *event.Filter, poll time.Duration, fn func(line []byte) error) error {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	fl := &follower{st: st, path: filepath.Join(st.opts.Dir, st.opts.Filename), lf: event.NewLineFilter(f), fn: fn}
	defer fl.close()
	// Start after the newest event there is.
	p, err := st.List(ctx, Query{Limit: 1})
	if err != nil {
		return fmt.Errorf("follow audit file: %w", err)
	}
	for _, line := range p.Lines {
		t, id := lineTimeID(line, nil)
		fl.lastTime, fl.lastIDs = t, map[string]bool{id: true}
	}
	if err := fl.open(true); err != nil {
		return err
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := fl.poll(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// follower tails the live file.
type follower struct {
	st   *Store
	path string
	lf   *event.LineFilter
	fn   func([]byte) error

	file    *os.File // nil while the live file is missing
	off     int64    // next byte to read
	partial []byte   // a line not yet ended

	// The last line passed: its eventTime, and the ids passed at it.
	lastTime string
	lastIDs  map[string]bool
	buf      []byte
}

// open opens the live file; atEnd starts after what it holds.
func (fl *follower) open(atEnd bool) error {
	f, err := os.Open(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // not created yet: try at the next poll
	}
	if err != nil {
		return fmt.Errorf("follow audit file: %w", err)
	}
	fl.file, fl.off, fl.partial = f, 0, fl.partial[:0]
	if atEnd {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("follow audit file: %w", err)
		}
		fl.off = fi.Size()
	}
	return nil
}

func (fl *follower) close() {
	if fl.file != nil {
		fl.file.Close()
	}
}

// poll reads what was appended; if the path names another file now, it
// finishes the old one and goes on with the new one from its start.
func (fl *follower) poll() error {
	if fl.file == nil {
		return fl.open(false)
	}
	if err := fl.drain(); err != nil {
		return err
	}
	now, err := os.Stat(fl.path)
	held, herr := fl.file.Stat()
	if err == nil && herr == nil && os.SameFile(now, held) {
		return nil
	}
	if err := fl.drain(); err != nil { // what was written before the switch
		return err
	}
	fl.file.Close()
	fl.file = nil
	if err := fl.catchUp(); err != nil {
		return err
	}
	if err := fl.open(false); err != nil {
		return err
	}
	if fl.file != nil {
		return fl.drain()
	}
	return nil
}

// catchUp reads the rotated files that may hold lines after the last one
// passed: when the live file was rotated (maybe more than once) or
// replaced since the last poll, the lines written meanwhile are there.
// Lines passed already are skipped by their eventTime and id.
func (fl *follower) catchUp() error {
	infos, err := fl.st.list()
	if err != nil {
		return fmt.Errorf("follow audit file: %w", err)
	}
	var todo []rotate.Info
	for _, info := range infos {
		if info.Live {
			continue
		}
		todo = append(todo, info)
		if first, ok := firstTimeOf(info, fl.st.opts.TempDir); ok && first <= fl.lastTime {
			break // older files hold only lines passed already
		}
	}
	for i := len(todo) - 1; i >= 0; i-- {
		if err := fl.readWhole(todo[i]); err != nil {
			return err
		}
	}
	return nil
}

// readWhole passes every line of a rotated file.
func (fl *follower) readWhole(info rotate.Info) error {
	f, err := os.Open(info.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed by retention meanwhile
	}
	if err != nil {
		return fmt.Errorf("follow audit file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("follow audit file: %w", err)
	}
	src := &source{info: info, file: f, size: fi.Size(), tempDir: fl.st.opts.TempDir}
	defer src.close()
	ra, size, err := src.reader()
	if err != nil {
		return fmt.Errorf("follow audit file: %w", err)
	}
	lines := newFwdLines(ra, 0, size)
	for {
		line, _, ok, err := lines.Next()
		if err != nil || !ok {
			return err
		}
		if err := fl.line(line); err != nil {
			return err
		}
	}
}

// drain reads the held file to its end.
func (fl *follower) drain() error {
	if cap(fl.buf) == 0 {
		fl.buf = make([]byte, 256<<10)
	}
	for {
		n, err := fl.file.ReadAt(fl.buf, fl.off)
		fl.off += int64(n)
		if n > 0 {
			if perr := fl.feed(fl.buf[:n]); perr != nil {
				return perr
			}
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow audit file: %w", err)
		}
	}
}

// feed splits data into lines, keeping an unended one for later.
func (fl *follower) feed(data []byte) error {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(fl.partial)+len(data) <= maxLineLen {
				fl.partial = append(fl.partial, data...)
			}
			return nil
		}
		line := data[:i]
		if len(fl.partial) > 0 {
			fl.partial = append(fl.partial, line...)
			line = fl.partial
		}
		data = data[i+1:]
		err := fl.line(line)
		fl.partial = fl.partial[:0]
		if err != nil {
			return err
		}
	}
}

// line passes one line to fn if it is new and matches.
func (fl *follower) line(line []byte) error {
	verdict := fl.lf.Match(line)
	if verdict == event.Invalid {
		return nil
	}
	t, id := lineTimeID(line, fl.lf.Decoded())
	switch {
	case t < fl.lastTime, t == fl.lastTime && fl.lastIDs[id]:
		return nil // passed already (the file was rewritten)
	case t > fl.lastTime:
		fl.lastTime = t
		clear(fl.lastIDs)
	}
	if fl.lastIDs == nil {
		fl.lastIDs = map[string]bool{}
	}
	fl.lastIDs[id] = true
	if verdict != event.Matched {
		return nil
	}
	if ev := fl.lf.Decoded(); ev != nil {
		out, _ := event.AppendJSON(nil, ev)
		line = out[:len(out)-1]
	}
	return fl.fn(line)
}

// lineTimeID returns a valid line's eventTime and id.
func lineTimeID(line []byte, decoded *event.Event) (string, string) {
	if decoded != nil {
		return event.FormatTime(decoded.Time), decoded.ID
	}
	t, _ := event.LineTime(line)
	id, _ := event.LineID(line)
	return string(t), string(id)
}
