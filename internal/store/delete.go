package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/rotate"
)

// Delete removes every event matching f (compiled; the zero Filter
// matches all) that exists when Delete starts, and returns how many it
// removed. Events written meanwhile are kept, whatever they are.
//
// The live file is never rewritten (docs/store.md "Deletes"): when it
// holds a matching event, it is first rotated aside (Options.RotateLive:
// the writer ends it, with its checkpoint when sealed, and it is renamed
// to a rotated name), so that a reader holding it sees it unchanged and a
// tailer following its path sees an ordinary rotation. Then each rotated
// file holding a matching event is rewritten without it to a dot-named
// temporary file in the same directory, synced and renamed over the
// original (gzip files are rewritten gzipped; a file left empty is
// removed), while no rotated file is compressed or removed (Locker).
// Files whose time span misses the filter's are not read; inside a file,
// only the filter's time span is read line by line, the rest is copied
// as is.
func (st *Store) Delete(ctx context.Context, f *event.Filter) (int, error) {
	d, err := st.DeleteFor(ctx, f, "")
	return d.Count, err
}

// DeleteFor is Delete for a delete that recordID, the id of its
// system.events.deleted record, describes: with integrity on, rewritten
// files are re-sealed resealed_by it, and the Deletion lists them for the
// record.
func (st *Store) DeleteFor(ctx context.Context, f *event.Filter, recordID string) (Deletion, error) {
	if f == nil {
		f = &event.Filter{}
	}
	cut := cutFilter{lf: event.NewLineFilter(f), upto: event.FormatTime(st.opts.Now())}
	if !f.Since.IsZero() {
		cut.since = event.TimeText(f.Since)
	}
	if !f.Before.IsZero() {
		cut.before = event.TimeText(f.Before)
	}
	return st.rewriteAll(ctx, &cut, recordID)
}

// ErrProtected refuses a delete by id of a line deletes never remove
// (integrity.IsEvidenceType); the error is a *ProtectedError.
var ErrProtected = errors.New("deletes never remove delete records, checkpoints or reopen records")

// ProtectedError names the event a delete by id was refused for.
type ProtectedError struct {
	ID, Type string
}

func (e *ProtectedError) Error() string {
	return fmt.Sprintf("event %s is a %s line: %v", e.ID, e.Type, ErrProtected)
}

func (e *ProtectedError) Is(target error) bool { return target == ErrProtected }

// DeleteID removes the event with id; ErrNotFound if there is none,
// a *ProtectedError if it is a line deletes never remove.
func (st *Store) DeleteID(ctx context.Context, id string) (int, error) {
	d, err := st.DeleteIDFor(ctx, id, "")
	return d.Count, err
}

// DeleteIDFor is DeleteID for a delete recordID describes (DeleteFor).
func (st *Store) DeleteIDFor(ctx context.Context, id, recordID string) (Deletion, error) {
	fd, err := st.locate(ctx, id)
	if err != nil {
		return Deletion{}, err
	}
	var e event.Event
	if event.Decode(fd.line, &e) == nil && integrity.IsEvidenceType(e.Type) {
		return Deletion{}, &ProtectedError{ID: id, Type: e.Type}
	}
	// Only lines at its eventTime are read; the id picks it among them.
	var f event.Filter
	cut := cutFilter{lf: event.NewLineFilter(&f), id: id, upto: fd.time, since: fd.time,
		before: fd.time + "\xff"}
	d, err := st.rewriteAll(ctx, &cut, recordID)
	if err == nil && d.Count == 0 {
		return d, ErrNotFound // deleted by someone else in between
	}
	return d, err
}

// cutFilter says which lines a rewrite drops.
type cutFilter struct {
	lf            *event.LineFilter
	id            string // if set, only the event with this id
	since, before string // eventTime text bounds of what may match
	upto          string // lines after this eventTime are newer than the delete: kept
}

// inSpan reports whether eventTime t is inside the span that may match.
func (c *cutFilter) inSpan(t []byte) bool {
	return (c.since == "" || string(t) >= c.since) && (c.before == "" || string(t) < c.before) &&
		string(t) <= c.upto
}

// drops reports whether line is deleted. Lines that do not decode are
// kept, and so are checkpoints, delete records and reopen records,
// whatever the filter (integrity.IsEvidenceType): the record of a delete
// outlives every later delete.
func (c *cutFilter) drops(line []byte, t []byte) bool {
	if t != nil && !c.inSpan(t) || integrity.IsEvidence(line) {
		return false
	}
	if c.id != "" {
		if id, ok := event.LineID(line); ok && string(id) != c.id {
			return false
		}
	}
	if c.lf.Match(line) != event.Matched {
		return false
	}
	if t == nil || c.id != "" || integrity.MayBeEvidence(line) {
		var e event.Event
		if event.Decode(line, &e) != nil {
			return false
		}
		ft := event.FormatTime(e.Time)
		if !c.inSpan([]byte(ft)) || c.id != "" && e.ID != c.id || integrity.IsEvidenceType(e.Type) {
			return false
		}
	}
	return true
}

// noLock is the Locker when no writer runs.
type noLock struct{}

func (noLock) WithRotated(fn func() error) error { return fn() }

// rewriteAll rewrites every file that holds a line cut drops.
func (st *Store) rewriteAll(ctx context.Context, cut *cutFilter, recordID string) (Deletion, error) {
	st.deleteMu.Lock()
	defer st.deleteMu.Unlock()
	var lock Locker = noLock{}
	if st.opts.Lock != nil {
		lock = st.opts.Lock
	}
	seal := st.opts.Seal
	if seal == nil && st.opts.RefuseSealed {
		sealed, err := st.sealedFiles()
		if err != nil {
			return Deletion{}, fmt.Errorf("delete events: %w", err)
		}
		if sealed {
			return Deletion{}, ErrSealed
		}
	}
	rs := &resealer{seal: seal, id: recordID, newEnd: map[string]integrity.State{}, oldEnd: map[string]integrity.Digest{}}
	total := 0
	rewrite := func() error {
		sn, err := st.Snapshot()
		if err != nil {
			return err
		}
		defer sn.Close()
		// Oldest first: a re-sealed file goes on from the file before it.
		for i := len(sn.srcs) - 1; i >= 0; i-- {
			src := sn.srcs[i]
			info := src.info
			if info.Live {
				continue // rotated aside first if it held anything to cut
			}
			if !sn.mayHold(i, cut) {
				continue
			}
			var n int
			if seal != nil {
				start, oldStart, serr := st.startOf(rs, sn, i)
				if serr != nil {
					return fmt.Errorf("delete events: %s: %w", info.Name, serr)
				}
				n, err = st.rewriteSealed(ctx, rs, src, cut, start, oldStart)
			} else {
				n, err = st.rewriteFile(ctx, src, cut)
			}
			src.release()
			if err != nil {
				return fmt.Errorf("delete events: %s: %w", info.Name, err)
			}
			total += n
		}
		return nil
	}
	err := lock.WithRotated(func() error {
		if err := st.rotateLiveFor(ctx, cut); err != nil {
			return fmt.Errorf("delete events: %w", err)
		}
		return rewrite()
	})
	if errors.Is(err, rotate.ErrClosed) {
		err = fmt.Errorf("delete events: %w", err)
	}
	return Deletion{Count: total, Files: rs.done}, err
}
