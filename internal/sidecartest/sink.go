package sidecartest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// Sink is a fake event sink, for what writes events without a sidecar
// (the proxy, client events, notifications): it keeps a copy of every
// event, each checked to encode as one valid JSON line once the audit
// writer's stamps (id, time) are on it, or refuses them with the error
// given to Fail.
type Sink struct {
	t      testing.TB
	ids    event.IDs
	mu     sync.Mutex
	events []event.Event
	err    error
}

// NewSink returns an empty Sink reporting bad events to t.
func NewSink(t testing.TB) *Sink { return &Sink{t: t} }

// Emit keeps a copy of e, or returns the error given to Fail.
func (s *Sink) Emit(e *event.Event) error {
	stamped := *e
	if stamped.ID == "" {
		stamped.ID = s.ids.New()
	}
	stamped.Time = time.Now()
	line, err := event.AppendJSON(nil, &stamped)
	if err != nil {
		s.t.Errorf("event %+v does not encode: %v", e, err)
	} else if !json.Valid(line) || strings.Count(string(line), "\n") != 1 {
		s.t.Errorf("event encodes to a bad line: %q", line)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.events = append(s.events, *e)
	return nil
}

// EmitWritten is Emit (a Sink keeps e at once, as an audit writer has
// it in the file when EmitWritten returns), setting e.ID when empty, as
// the writer does.
func (s *Sink) EmitWritten(_ context.Context, e *event.Event) error {
	if e.ID == "" {
		e.ID = s.ids.New()
	}
	return s.Emit(e)
}

// Fail makes every later Emit return err (the audit writer's ErrDropped,
// say); nil accepts events again.
func (s *Sink) Fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Events are the events kept, in the order emitted.
func (s *Sink) Events() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Event(nil), s.events...)
}
