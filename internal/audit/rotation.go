package audit

import (
	"log/slog"

	"github.com/trailcar/trailcar/internal/event"
)

// What the writer needs from the rotating file (*rotate.File) beyond File.
// The rotate package decides when a file is full and rotates it by itself
// on the write that would overfill it; the writer steps in only where the
// trail needs it: a sealed file must end with its own checkpoint, and a
// file replaced from outside must be recorded.

// Rotator is a File that says how much room is left before it rotates,
// and rotates on demand (*rotate.File): with a Seal, a file ends with its
// checkpoint.
type Rotator interface {
	Remaining() int64
	Rotate() error
}

// replacementNotifier is a File that tells when it was deleted or replaced
// from outside (*rotate.File): the writer then records
// system.audit.file_replaced itself.
type replacementNotifier interface {
	NotifyReplaced(fn func(reason string))
	Path() string
}

// checkpointReserve is room kept in the live file for the checkpoint that
// seals it: a line that would not leave it goes to the next file.
const checkpointReserve = 2 << 10

// handOff is how a sealed file is handed to rotation: before a line that
// would leave less than checkpointReserve in the live file, the sealer
// writes the checkpoint, then rotates the file on demand, rather than
// letting the file rotate by itself on the next write and end unsealed.
// Its zero value (a File that cannot rotate on demand) never hands off.
type handOff struct {
	file Rotator
	log  *slog.Logger
}

// due reports whether n more bytes, written now, would not leave room for
// the checkpoint that must end the live file (Remaining is 0 once the file
// is due by age: rotate_every). A file with no unsealed lines already
// ends with its checkpoint and is rotated as it is.
func (h handOff) due(n, unsealed int) bool {
	return h.file != nil && int64(n+checkpointReserve) > h.file.Remaining()
}

// rotate starts the next file, after the checkpoint that ended this one,
// and reports whether it did. A failure is only logged: the lines that
// follow go on in this file, which rotates by itself when a write would
// overfill it.
func (h handOff) rotate() bool {
	if err := h.file.Rotate(); err != nil {
		h.log.Error("rotate audit file after its checkpoint", "err", err)
		return false
	}
	return true
}

// watchReplacement makes the writer record system.audit.file_replaced
// when the file (if there is one and it can tell) is deleted or replaced from outside. The
// record may come from the writer's own goroutine (a write found the file
// gone), which must never wait on its own full queue: it is forced.
func (w *Writer) watchReplacement(f File) {
	n, ok := f.(replacementNotifier)
	if !ok {
		return
	}
	n.NotifyReplaced(func(reason string) {
		w.emitSystem("system.audit.file_replaced", event.LevelError,
			"the live audit file was "+reason+" from outside; it was recreated",
			(&event.Details{}).String("reason", reason).String("path", n.Path()).Object())
	})
}
