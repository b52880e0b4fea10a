package audit

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
)

// Labels outside the event counters' (0 to 15).
const (
	labelCheckpoint uint8 = 254 // a checkpoint's placeholder: the checkpoint is made when it is written
	noLabel         uint8 = 255 // emitLabeled: take the event's own
)

// sealer is the batchSink of a sealed log (docs/integrity.md), in front
// of the chunker: it chains every line written and writes checkpoints:
// at most CheckpointEvery after a line (a placeholder queued by a timer
// becomes the checkpoint when the writer reaches it), as the last line of
// a file before it rotates (rotation.go), and at Close.
//
// Invariants: the chain's lock is held from the moment a line is chained
// until it is written, so lines are chained in the order they reach the
// file, and a delete that rewrites the file (internal/store, which takes
// the same lock) never falls in between; a checkpoint is written after
// every line it seals and before any line it does not.
type sealer struct {
	chain    *integrity.Sealer
	chunks   *chunker
	rotation handOff
	aside    *asideRotations // nil: no delete asks for a rotation
	reopen   *reopening      // nil: placeholders of reopens are passed over
	origin   origin
	every    time.Duration
	m        *metrics.Metrics
	log      *slog.Logger
	// queuePlaceholder queues a checkpoint's placeholder, forced past the
	// bound, stamped in queue order like any event.
	queuePlaceholder func() error

	armed atomic.Bool // a checkpoint is due: its timer runs, or its placeholder is queued
}

// write chains and writes the lines of b, with the checkpoints that fall
// due among them.
func (s *sealer) write(b batch) int {
	s.chain.Lock()
	defer s.chain.Unlock()
	c := s.chunks
	c.reset()
	start := 0
	for i, l := range b.lines {
		line := b.buf[start:l.end]
		start = l.end
		if l.label == labelCheckpoint {
			if !s.cut(line, l.slot) { // the placeholder's own id
				return c.first(i)
			}
			s.armed.Store(false)
			continue
		}
		if l.label == labelAside {
			// A delete's rotation: the file ends with its checkpoint, as at
			// any rotation, then goes aside.
			if !s.cut(line, l.slot) {
				return c.first(i)
			}
			if s.aside != nil && s.aside.rotate(line) {
				s.chain.Rotated()
			}
			continue
		}
		if isReopen(l.label) {
			if s.reopen.due(l.label) {
				// Seal the file still held (wherever it went), then start
				// the new one with where the chain stands.
				if !s.cut(line, idSlot(l.slot)) {
					return c.first(i)
				}
				st := s.chain.State()
				rec := s.reopen.record(line, &st)
				if rec != nil {
					if !c.writeAlone(rec, reopenedLabel()) {
						return c.first(i)
					}
					s.chain.Line(rec)
				}
			}
			continue
		}
		if s.rotation.due(c.buffered()+len(line), s.chain.Pending()) {
			// The line goes to a new file: seal this one first.
			if !s.cut(line, idSlot(l.slot)) {
				return c.first(i)
			}
			if s.rotation.rotate() {
				s.chain.Rotated() // the file, and its checkpoints, stay in the dir
			}
		}
		if !c.add(line, l.label) {
			return c.first(i)
		}
		s.chain.Line(line)
	}
	if !c.flush() {
		return c.first(len(b.lines))
	}
	return len(b.lines)
}

// cut writes what is gathered, then the checkpoint of the segment (if it
// has lines) with the time of next, the line or placeholder it comes
// before (no line before it has a later time), and the id of slot (made
// in queue order: after every line before it, before next). false:
// Close gave up.
func (s *sealer) cut(next []byte, slot uint64) bool {
	if !s.chunks.flush() {
		return false
	}
	return s.checkpoint(placeholderTime(next), slot)
}

// checkpoint writes the checkpoint of the current segment, if it has
// lines, stamped t with the id of slot; false: Close gave up. The chain's
// lock is held.
func (s *sealer) checkpoint(t time.Time, slot uint64) bool {
	if s.chain.Pending() == 0 {
		return true
	}
	cp := s.chain.Checkpoint()
	e := &event.Event{
		ID: event.IDAt(slot), Time: t, Type: integrity.CheckpointType, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
		Message: fmt.Sprintf("checkpoint %d: %d lines sealed", cp.Seq, cp.Lines),
		Details: cp.Details(),
	}
	s.origin.fill(e)
	line, err := event.AppendJSON(nil, e)
	if err != nil {
		s.log.Error("encode checkpoint", "err", err)
		return true
	}
	if !s.chunks.writeAlone(line, eventLabel(e)) {
		return false
	}
	s.chain.Sealed(cp, line)
	s.m.IntegrityCheckpoints.Inc()
	s.m.IntegrityLastCheckpoint.Set(float64(t.UnixNano()) / 1e9)
	return true
}

// arm makes sure a checkpoint comes at most CheckpointEvery after the
// lines just written: a placeholder is queued then.
func (s *sealer) arm() {
	if s.armed.Load() {
		return
	}
	s.chain.Lock()
	pending := s.chain.Pending()
	s.chain.Unlock()
	if pending == 0 || !s.armed.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(s.every, func() {
		if err := s.queuePlaceholder(); err != nil {
			s.armed.Store(false) // closed: the final checkpoint seals
		}
	})
}

// final seals what Close leaves unsealed, stamped t with the id of slot:
// after every line written.
func (s *sealer) final(t time.Time, slot uint64) {
	s.chain.Lock()
	defer s.chain.Unlock()
	s.chunks.reset()
	s.checkpoint(t, slot)
}
