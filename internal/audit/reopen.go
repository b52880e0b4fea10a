package audit

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/rotate"
)

// Placeholders that become a reopen when the writer reaches them.
const (
	labelReopen uint8 = 253 // Reopen (SIGHUP): seal the live file, open the path again, record it
	labelMoved  uint8 = 252 // the file found moved away: the same, unless a reopen already did it
)

// reopener is a File that tells when it was moved away and reopens on
// demand (*rotate.File).
type reopener interface {
	Reopen() (rotate.Reopened, error)
	NotifyMoved(fn func())
	Moved() bool
}

// reopening is how an outside rotation is met (docs/integrity.md "Outside
// rotation"): when the live file was moved away (logrotate's mv, noticed
// by a write or the file's watch) or at SIGHUP, the writer, on reaching
// the placeholder queued then, seals the file it still holds (the
// checkpoint goes wherever the file went), opens the path again, and
// starts the new file with system.audit.reopened, which carries where the
// chain stands, so verify can check the new file's head and tell the
// gap from a deletion.
type reopening struct {
	file   reopener
	origin origin
	log    *slog.Logger
	// queued: a labelMoved placeholder waits, so the watch does not queue
	// one a tick.
	queued atomic.Bool
}

// isReopen reports whether label is a reopen's placeholder.
func isReopen(label uint8) bool { return label == labelReopen || label == labelMoved }

// due reports whether the placeholder labelled label asks for a reopen
// now: always for Reopen's; for the watch's, only while the file is still
// moved away (a SIGHUP that came first did it).
func (r *reopening) due(label uint8) bool {
	if r == nil {
		return false
	}
	if label == labelMoved {
		r.queued.Store(false)
		return r.file.Moved()
	}
	return true
}

// record reopens the file and returns the system.audit.reopened line that
// starts the new one (newline included), with the placeholder's id and
// time (it was stamped in queue order) and, on a sealed log, st: the
// chain right after the checkpoint that sealed the file before.
func (r *reopening) record(placeholder []byte, st *integrity.State) []byte {
	res, err := r.file.Reopen()
	if err != nil {
		r.log.Error("reopen audit file", "err", err)
	}
	d := &event.Details{}
	msg := "the audit file was reopened"
	if res.Moved {
		d.String("reason", "moved")
		msg = "the audit file was moved away from outside (sealed where it went); a new one was opened"
		if res.MovedTo != "" {
			d.String("moved_to", res.MovedTo)
			msg = fmt.Sprintf("the audit file was moved away from outside to %s (sealed there); a new one was opened", res.MovedTo)
		}
	} else {
		d.String("reason", "reopened")
	}
	if st != nil {
		d.Int("seq", int64(st.Seq)).String("chain", st.LastCP.String()).String("from", st.Chain.String())
		if res.Moved && st.Kept > 0 {
			// The files moved away hold the checkpoints after Kept: an
			// own file deleted before them is told from them.
			d.Int("since", int64(st.Kept))
		}
	}
	e := event.NewSystem(integrity.ReopenedType, event.LevelInfo, msg, d.Object())
	if id, ok := event.LineID(placeholder); ok {
		e.ID = string(id)
	}
	e.Time = placeholderTime(placeholder)
	r.origin.fill(e)
	line, err := event.AppendJSON(nil, e)
	if err != nil {
		r.log.Error("encode reopen record", "err", err)
		return nil
	}
	return line
}

// placeholderTime is the time stamped on a queued line; now if it has
// none.
func placeholderTime(line []byte) time.Time {
	if text, ok := event.LineTime(line); ok {
		if t, err := time.Parse(time.RFC3339Nano, string(text)); err == nil {
			return t
		}
	}
	return time.Now()
}

// watchMoves makes the writer reopen when the file (if it can tell) was
// moved away from outside. Like a replacement, it may be noticed on the
// writer's own goroutine: the placeholder is forced.
func (w *Writer) watchMoves(r *reopening) {
	if r == nil {
		return
	}
	r.file.NotifyMoved(func() {
		if !r.queued.CompareAndSwap(false, true) {
			return
		}
		if _, err := w.emitLabeled(reopenPlaceholder(), true, labelMoved); err != nil {
			r.queued.Store(false)
		}
	})
}

func reopenPlaceholder() *event.Event {
	return &event.Event{Type: integrity.ReopenedType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
}

// reopenedLabel is the events_total label of a system.audit.reopened line.
func reopenedLabel() uint8 { return eventLabel(reopenPlaceholder()) }
