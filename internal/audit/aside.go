package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
)

// labelAside is the placeholder of a delete's rotation: the writer, on
// reaching it, ends the live file (with its checkpoint, when sealed) and
// has it rotated aside, so that the delete rewrites a rotated copy and
// never the live file (docs/store.md "Deletes").
const labelAside uint8 = 251

// asideRotator is a File that rotates the live file aside for a delete
// (*rotate.File).
type asideRotator interface {
	RotateForDelete() error
}

// ErrNoAsideRotation is returned by RotateForDelete when the writer's
// file cannot rotate for a delete (no file, or not a *rotate.File).
var ErrNoAsideRotation = errors.New("the audit file cannot be rotated for a delete")

// asideRotations does the rotations deletes ask for, on the writer's
// goroutine, and keeps each one's outcome for the delete waiting on it.
type asideRotations struct {
	file asideRotator
	log  *slog.Logger

	mu   sync.Mutex
	errs map[string]error // by the placeholder's id
}

// rotate rotates the live file aside for the placeholder, and reports
// whether it did.
func (a *asideRotations) rotate(placeholder []byte) bool {
	err := a.file.RotateForDelete()
	if err != nil {
		a.log.Error("rotate the audit file for a delete", "err", err)
	}
	if id, ok := event.LineID(placeholder); ok {
		a.mu.Lock()
		a.errs[string(id)] = err
		a.mu.Unlock()
	}
	return err == nil
}

// result takes the outcome of the rotation the placeholder id asked for.
func (a *asideRotations) result(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err, ok := a.errs[id]
	if !ok {
		return errors.New("the audit writer did not rotate the file for the delete")
	}
	delete(a.errs, id)
	return err
}

// RotateForDelete has the writer end the live file after every line
// queued before this call (sealing it with its checkpoint, with
// integrity on) and rotate it aside (rotate.File.RotateForDelete), and
// waits until that is done or ctx ends. A delete calls it before cutting
// from what was the live file.
func (w *Writer) RotateForDelete(ctx context.Context) error {
	if w.aside == nil {
		return ErrNoAsideRotation
	}
	e := &event.Event{Type: integrity.CheckpointType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess}
	ticket, err := w.emitLabeled(e, true, labelAside)
	if err != nil {
		return err
	}
	if err := w.progress.wait(ctx, ticket, w.done); err != nil {
		return err
	}
	return w.aside.result(e.ID)
}

// isPlaceholder reports whether label is a placeholder's, which is acted
// on and never written.
func isPlaceholder(label uint8) bool {
	return label == labelCheckpoint || label == labelAside || isReopen(label)
}
