package audit

import (
	"fmt"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
)

// Labels outside the event counters' (0 to 15).
const (
	labelCheckpoint uint8 = 254 // a checkpoint's placeholder: the checkpoint is made when it is written
	noLabel         uint8 = 255 // emitLabeled: take the event's own
)

// checkpointReserve is room kept in the live file for the checkpoint that
// seals it: a line that would not leave it goes to the next file.
const checkpointReserve = 2 << 10

// Rotator is a File that says how much room is left before it rotates,
// and rotates on demand (*rotate.File): with a Seal, a file ends with its
// checkpoint.
type Rotator interface {
	Remaining() int64
	Rotate() error
}

// rotationDue reports whether n more bytes would not leave room for the
// checkpoint that must end the live file, while there are lines to seal.
func (w *Writer) rotationDue(n int) bool {
	if w.opts.Seal == nil || w.rotator == nil {
		return false
	}
	return int64(n+checkpointReserve) > w.rotator.Remaining() && w.opts.Seal.Pending() > 0
}

// checkpoint writes the checkpoint of the current segment, if it has
// lines, with the time of next (the line it comes before, or its
// placeholder: no line before it has a later time); false when Close gave
// up. The Seal's lock is held.
func (w *Writer) checkpoint(next []byte) bool {
	t := time.Now()
	if text, ok := event.LineTime(next); ok {
		if parsed, err := time.Parse(time.RFC3339Nano, string(text)); err == nil {
			t = parsed
		}
	}
	return w.writeCheckpoint(t)
}

func (w *Writer) writeCheckpoint(t time.Time) bool {
	seal := w.opts.Seal
	if seal == nil || seal.Pending() == 0 {
		return true
	}
	cp := seal.Checkpoint()
	e := &event.Event{
		ID: w.ids.New(), Time: t, Type: integrity.CheckpointType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
		Service: w.opts.Service, Host: w.opts.Host,
		Message: fmt.Sprintf("checkpoint %d: %d lines sealed", cp.Seq, cp.Lines),
		Details: cp.Details(),
	}
	line, err := event.AppendJSON(nil, e)
	if err != nil {
		w.log.Error("encode checkpoint", "err", err)
		return true
	}
	if !w.writeChunk(line) {
		return false
	}
	seal.Sealed(cp, line)
	w.out, w.outLabels = append(w.out, line), append(w.outLabels, w.counts.index(e))
	w.m.IntegrityCheckpoints.Inc()
	w.m.IntegrityLastCheckpoint.Set(float64(t.UnixNano()) / 1e9)
	return true
}

// armCheckpoint makes sure a checkpoint comes at most CheckpointEvery
// after the lines just written: a placeholder is queued then, and stamped
// in queue order like any event.
func (w *Writer) armCheckpoint() {
	if w.opts.Seal == nil || w.cpArmed.Load() {
		return
	}
	w.opts.Seal.Lock()
	pending := w.opts.Seal.Pending()
	w.opts.Seal.Unlock()
	if pending == 0 || !w.cpArmed.CompareAndSwap(false, true) {
		return
	}
	every := w.opts.CheckpointEvery
	if every <= 0 {
		every = time.Minute
	}
	time.AfterFunc(every, func() {
		placeholder := &event.Event{Type: integrity.CheckpointType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
		if err := w.emitLabeled(placeholder, true, labelCheckpoint); err != nil {
			w.cpArmed.Store(false) // closed: the final checkpoint seals
		}
	})
}

// finalCheckpoint seals what Close leaves unsealed, stamped after every
// line written.
func (w *Writer) finalCheckpoint() {
	if w.opts.Seal == nil || w.opts.File == nil {
		return
	}
	w.mu.Lock()
	t := w.now()
	if t.Before(w.last) {
		t = w.last
	}
	w.last = t
	w.mu.Unlock()
	w.opts.Seal.Lock()
	defer w.opts.Seal.Unlock()
	w.out, w.outLabels = w.out[:0], w.outLabels[:0]
	w.writeCheckpoint(t)
	w.publish(w.out)
	for _, l := range w.outLabels {
		w.counts.inc(l)
	}
}
