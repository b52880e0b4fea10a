package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/trailcar/trailcar/internal/event"
)

// Limits of a page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// PageBytes bounds the events of one page: a page stops before the
	// event that would pass it (its cursor goes on from there), so 1000
	// events of 200 KiB each do not make a 200 MB answer.
	PageBytes = 8 << 20
)

// Query asks for one page of events, newest first.
type Query struct {
	// Filter must be compiled; nil matches every event.
	Filter *event.Filter
	// Limit is the page size, 1 to MaxLimit; 0 means DefaultLimit.
	Limit int
	// After, if set, is the cursor of the previous page.
	After *Cursor
	// MaxBytes bounds the page's events; 0 means PageBytes. A page holds
	// at least one event whatever its size.
	MaxBytes int
	// Cursors asks for the cursor after each event (Page.Cursors): a
	// cluster page may show only some of a pod's events.
	Cursors bool
}

// Page is one page of events.
type Page struct {
	// Lines are the events as JSON objects (AppendJSON's encoding,
	// without the newline), newest first.
	Lines [][]byte
	// Next is the cursor of the next page; nil on the last page.
	Next *Cursor
	// Cursors, when asked for, are the cursors after each line.
	Cursors []Cursor
	Stats   Stats
}

// List returns one page. It reads backwards from the cursor (or the end)
// and stops once it has found Limit events, and one more to know whether
// another page follows.
func (st *Store) List(ctx context.Context, q Query) (Page, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return Page{}, fmt.Errorf("limit %d: want 1 to %d", q.Limit, MaxLimit)
	}
	budget := q.MaxBytes
	if budget <= 0 {
		budget = PageBytes
	}
	var page Page
	var slab []byte
	var last mark
	var lastTime, lastID [64]byte
	size := 0
	stats, err := st.walk(ctx, q.Filter, q.After, func(line []byte, at mark) error {
		if len(page.Lines) == q.Limit || len(page.Lines) > 0 && size+len(line) > budget {
			page.Next = &Cursor{Time: string(last.time), ID: string(last.id), N: last.n}
			return errStop
		}
		size += len(line)
		// Copies carved from slabs: a page of 1,000 lines costs a few
		// allocations, not 1,000.
		if cap(slab)-len(slab) < len(line) {
			slab = make([]byte, 0, max(64<<10, len(line)))
		}
		slab = append(slab, line...)
		page.Lines = append(page.Lines, slab[len(slab)-len(line):len(slab):len(slab)])
		// at's slices point into the reader's buffer: keep copies.
		last = mark{time: append(lastTime[:0], at.time...), id: append(lastID[:0], at.id...), n: at.n}
		if q.Cursors {
			page.Cursors = append(page.Cursors, Cursor{Time: string(at.time), ID: string(at.id), N: at.n})
		}
		return nil
	}, func() { page, size, slab = Page{}, 0, nil }, false)
	page.Stats = stats
	return page, err
}

// Each calls fn with every event matching f, newest first, starting after
// from (nil: the newest). The line is valid only during the call; an
// error from fn ends the walk and is returned. It holds one snapshot of
// the files for the whole walk, so memory stays bounded however many
// events there are. Without a cursor, the lines are filtered on all cores
// (in chunks, handed to fn in order): that is the full scan.
func (st *Store) Each(ctx context.Context, f *event.Filter, from *Cursor, fn func(line []byte) error) (Stats, error) {
	// A walk restarts only while skipping to its cursor, before its first
	// event: there is nothing to take back.
	return st.walk(ctx, f, from, func(line []byte, _ mark) error { return fn(line) }, func() {}, from == nil)
}

// walk runs a walker over a fresh snapshot. When the cursor's own event
// turns out to be gone, it calls reset and walks again, counting places.
// parallel (no cursor, and emit ignores marks) spreads the filtering over
// all cores.
func (st *Store) walk(ctx context.Context, f *event.Filter, from *Cursor, emit func([]byte, mark) error, reset func(), parallel bool) (Stats, error) {
	if f == nil {
		f = &event.Filter{}
	}
	sn, err := st.Snapshot()
	if err != nil {
		return Stats{}, err
	}
	defer sn.Close()
	if parallel {
		return st.eachParallel(ctx, sn, f, func(line []byte) error { return emit(line, mark{}) })
	}
	w := newWalker(sn, f, from, emit)
	err = w.run(ctx)
	if errors.Is(err, errCursorGone) {
		reset()
		w = newWalker(sn, f, from, emit)
		w.byCount = true
		err = w.run(ctx)
	}
	return w.stats, err
}
