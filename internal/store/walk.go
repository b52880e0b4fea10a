package store

import (
	"context"
	"errors"
	"io"

	"github.com/trailcar/trailcar/internal/event"
)

// errStop ends a walk early without error (enough results).
var errStop = errors.New("stop")

// errCursorGone restarts a walk whose cursor event was not found: it was
// deleted after the cursor was made, so its place is counted instead.
var errCursorGone = errors.New("cursor event gone")

// mark is where a matched line is in the order, for the next cursor.
type mark struct {
	time []byte // eventTime text
	id   []byte
	n    int // place among lines with the same eventTime, newest first
}

// walker visits the lines of a snapshot newest first, within the
// filter's time bounds and after a cursor, and hands matching lines to
// emit. Lines are judged by a LineFilter; lines that do not decode are
// counted and skipped.
type walker struct {
	sn            *Snapshot
	lf            *event.LineFilter
	since, before string // eventTime text bounds of the filter; "" when unset
	from          *Cursor
	byCount       bool // skip the cursor's place by count, not by its id
	emit          func(line []byte, at mark) error

	skipping bool // still inside the cursor's group, before its event
	group    [event.TimeLen]byte
	groupN   int
	timeBuf  []byte // the eventTime of a decoded line
	lineBuf  []byte // a re-encoded line
	stats    Stats
	seen     int
	ends     []int // line ends of a chunk (parallel walks)
}

func newWalker(sn *Snapshot, f *event.Filter, from *Cursor, emit func([]byte, mark) error) *walker {
	w := &walker{sn: sn, lf: event.NewLineFilter(f), from: from, emit: emit, skipping: from != nil}
	if !f.Since.IsZero() {
		w.since = event.TimeText(f.Since)
	}
	if !f.Before.IsZero() {
		w.before = event.TimeText(f.Before)
	}
	return w
}

// excluded reports whether eventTime t is above the walk's upper bounds
// (newer than the cursor, or at/after before). It is monotone in t.
func (w *walker) excluded(t []byte) bool {
	return w.before != "" && string(t) >= w.before || w.from != nil && string(t) > w.from.Time
}

func (w *walker) hasUpper() bool { return w.before != "" || w.from != nil }

// run walks every file, newest first.
func (w *walker) run(ctx context.Context) error {
	for _, src := range w.sn.srcs {
		err := w.file(ctx, src)
		src.release()
		if err != nil {
			return w.finish(err)
		}
	}
	if w.skipping && !w.byCount {
		return errCursorGone
	}
	return nil
}

func (w *walker) finish(err error) error {
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// span prepares one file for a walk: its content, and the end of the
// part the walk reads (before the lines the upper bounds exclude, found
// by a binary search by time). ok is false when every line is newer than
// wanted: the file is skipped, and only its first line was read.
func (w *walker) span(src *source) (ra io.ReaderAt, end int64, ok bool, err error) {
	if w.hasUpper() {
		if first, known := src.firstTime(); known && w.excluded([]byte(first)) {
			return nil, 0, false, nil
		}
	}
	ra, end, err = src.reader()
	if err != nil {
		return nil, 0, false, err
	}
	if w.hasUpper() {
		if _, end, err = seekTime(ra, end, w.excluded); err != nil {
			return nil, 0, false, err
		}
	}
	return ra, end, true, nil
}

// file walks one file backwards, from where the upper bound starts.
func (w *walker) file(ctx context.Context, src *source) error {
	ra, end, ok, err := w.span(src)
	if err != nil || !ok {
		return err
	}
	w.stats.Files++
	lines := newBackLines(ra, end)
	defer func() { w.stats.Invalid += lines.Overlong }()
	for {
		line, _, ok, err := lines.Next()
		if err != nil || !ok {
			return err
		}
		if w.seen++; w.seen&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := w.line(line); err != nil {
			return err
		}
	}
}

// unjudged marks a line the filter has not judged yet.
const unjudged = event.Verdict(255)

// line judges one line.
func (w *walker) line(line []byte) error {
	verdict := unjudged
	t, ok := rawTime(line)
	var id []byte
	if ok {
		id = line[len(`{"id":"`) : len(`{"id":"`)+event.IDLen]
	} else {
		// Not in the encoder's layout: decode it to learn where it is.
		if verdict = w.lf.Match(line); verdict == event.Invalid {
			w.stats.Invalid++
			return nil
		}
		ev := w.lf.Decoded()
		w.timeBuf = event.AppendTime(w.timeBuf[:0], ev.Time)
		t, id = w.timeBuf, []byte(ev.ID)
	}
	if w.excluded(t) {
		return nil
	}
	if string(t) != string(w.group[:]) {
		copy(w.group[:], t)
		w.groupN = 0
	}
	w.groupN++
	if w.skipping {
		if skip, err := w.skipCursorGroup(t, id); skip || err != nil {
			return err
		}
	}
	if w.since != "" && string(t) < w.since {
		if !event.ValidTimeText(t) {
			w.stats.Invalid++ // garbage must not end the walk
			return nil
		}
		return errStop // lines are in time order: all the rest are older
	}
	if verdict == unjudged {
		verdict = w.lf.Match(line)
	}
	switch verdict {
	case event.Invalid:
		w.stats.Invalid++
		return nil
	case event.NoMatch:
		return nil
	}
	if ev := w.lf.Decoded(); ev != nil {
		// Not in the encoder's layout: hand out the encoder's form.
		w.lineBuf, _ = event.AppendJSON(w.lineBuf[:0], ev)
		line = w.lineBuf[:len(w.lineBuf)-1]
	}
	return w.emit(line, mark{time: t, id: id, n: w.groupN})
}

// skipCursorGroup skips the lines of the cursor's eventTime up to and
// including the cursor's event. It reports whether the line is skipped.
func (w *walker) skipCursorGroup(t, id []byte) (bool, error) {
	if string(t) != w.from.Time {
		// Past the cursor's group.
		if !w.byCount {
			return false, errCursorGone
		}
		w.skipping = false
		return false, nil
	}
	if w.byCount {
		// The cursor's event is gone: skip the N-1 that came before it.
		if w.groupN < w.from.N {
			return true, nil
		}
		w.skipping = false
		return false, nil
	}
	if string(id) == w.from.ID {
		w.skipping = false
	}
	return true, nil
}

// rawTime returns the eventTime text at its fixed place (event.TimeOffset)
// when the line starts as the encoder writes it. The text is not checked
// here: it places the line, and the filter checks it when it judges the
// line.
func rawTime(line []byte) ([]byte, bool) {
	const idEnd = len(`{"id":"`) + event.IDLen
	end := event.TimeOffset + event.TimeLen
	if len(line) <= end || line[end] != '"' || string(line[:len(`{"id":"`)]) != `{"id":"` ||
		string(line[idEnd:event.TimeOffset]) != `","eventTime":"` {
		return nil, false
	}
	return line[event.TimeOffset:end], true
}
