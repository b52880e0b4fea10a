package store

import (
	"context"

	"github.com/trailcar/trailcar/internal/event"
)

// found is where an event is.
type found struct {
	line []byte // the event, as stored (a copy)
	time string // its eventTime text
}

// Get returns the event with id as a JSON object (AppendJSON's encoding,
// without the newline), or ErrNotFound.
//
// Ids are UUIDv7: their millisecond timestamp is when the request
// started, never after the event's eventTime. So Get reads forward from
// that time: it skips the files that end before it, binary-searches the
// first file for it, and usually finds the event within a few lines. Only
// if that fails (an id made elsewhere) does it read everything else.
func (st *Store) Get(ctx context.Context, id string) ([]byte, error) {
	fd, err := st.locate(ctx, id)
	if err != nil {
		return nil, err
	}
	return fd.line, nil
}

func (st *Store) locate(ctx context.Context, id string) (found, error) {
	start, ok := event.IDTime(id)
	if !ok {
		return found{}, event.ErrBadID
	}
	sn, err := st.Snapshot()
	if err != nil {
		return found{}, err
	}
	defer sn.Close()
	from := event.FormatTime(start)
	fd, ok, err := st.forwardFrom(ctx, sn, id, from)
	if err != nil || ok {
		return fd, err
	}
	// Not after its id's time: look before it too.
	fd, ok, err = st.forwardFrom(ctx, sn, id, "")
	if err != nil || ok {
		return fd, err
	}
	return found{}, ErrNotFound
}

// forwardFrom reads the files oldest first from eventTime from ("" from
// the very start) looking for id.
func (st *Store) forwardFrom(ctx context.Context, sn *Snapshot, id, from string) (found, bool, error) {
	before := func(t []byte) bool { return string(t) >= from }
	for i := len(sn.srcs) - 1; i >= 0; i-- {
		if from != "" && i > 0 {
			// The newer file's first line bounds this file's last.
			if next, ok := sn.srcs[i-1].firstTime(); ok && next < from {
				continue
			}
		}
		fd, ok, err := st.findInFile(ctx, sn.srcs[i], id, from, before)
		sn.srcs[i].release()
		if err != nil || ok {
			return fd, ok, err
		}
	}
	return found{}, false, nil
}

func (st *Store) findInFile(ctx context.Context, src *source, id, from string, atOrAfter func([]byte) bool) (found, bool, error) {
	ra, size, err := src.reader()
	if err != nil {
		return found{}, false, err
	}
	var off int64
	if from != "" {
		if off, _, err = seekTime(ra, size, atOrAfter); err != nil {
			return found{}, false, err
		}
	}
	lines := newFwdLines(ra, off, size)
	var e event.Event
	for n := 0; ; n++ {
		line, _, ok, err := lines.Next()
		if err != nil || !ok {
			return found{}, false, err
		}
		if n&4095 == 4095 && ctx.Err() != nil {
			return found{}, false, ctx.Err()
		}
		if lid, ok := event.LineID(line); ok && string(lid) != id {
			continue
		}
		if event.Decode(line, &e) != nil || e.ID != id {
			continue
		}
		out := line
		if !event.ScanLine(line, &event.Fields{}) {
			out, _ = event.AppendJSON(nil, &e)
			out = out[:len(out)-1]
		}
		return found{line: append([]byte(nil), out...), time: event.FormatTime(e.Time)}, true, nil
	}
}
