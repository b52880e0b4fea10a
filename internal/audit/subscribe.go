package audit

import (
	"bytes"
	"errors"
	"sync"
)

// ErrFellBehind ends a subscription whose reader did not keep up.
var ErrFellBehind = errors.New("subscriber fell behind: events were coming faster than it read them")

// Subscription receives every line written after it was made, in order,
// one encoded event (newline included) per value. Lines are shared and
// must not be modified.
type Subscription struct {
	C <-chan []byte

	c      chan []byte
	w      *Writer
	once   sync.Once
	errMu  sync.Mutex
	err    error
	closed chan struct{}
}

// Subscribe starts a subscription buffering up to buffer lines. A reader
// that lets the buffer fill is dropped: C is closed and Err returns
// ErrFellBehind. The writer never waits for a subscriber.
func (w *Writer) Subscribe(buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	c := make(chan []byte, buffer)
	s := &Subscription{C: c, c: c, w: w, closed: make(chan struct{})}
	w.subsMu.Lock()
	w.subs[s] = struct{}{}
	w.subsMu.Unlock()
	return s
}

// Err says why C was closed: nil after Close or when the writer closed,
// ErrFellBehind when the reader did not keep up.
func (s *Subscription) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Done is closed when the subscription ends, for whatever reason.
func (s *Subscription) Done() <-chan struct{} { return s.closed }

// Close ends the subscription.
func (s *Subscription) Close() { s.end(nil) }

func (s *Subscription) end(err error) {
	s.w.subsMu.Lock()
	delete(s.w.subs, s)
	s.w.subsMu.Unlock()
	s.finish(err)
}

// finish closes C; s must already be out of the writer's set, so nothing
// sends on C any more.
func (s *Subscription) finish(err error) {
	s.once.Do(func() {
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
		close(s.closed)
		close(s.c)
	})
}

// Written returns a channel that is closed when the next lines have been
// written to the file: followers of the files (internal/store) wait on it
// instead of waiting for their next poll. Cheap enough for every batch: a
// channel is made only when someone asked for one.
func (w *Writer) Written() <-chan struct{} {
	w.subsMu.Lock()
	defer w.subsMu.Unlock()
	if w.written == nil {
		w.written = make(chan struct{})
	}
	return w.written
}

// publish hands the first n lines of b to the subscribers. The lines are
// copied once into memory the subscribers share, since b is reused.
func (w *Writer) publish(b batch, n int) {
	w.subsMu.Lock()
	defer w.subsMu.Unlock()
	if n > 0 && w.written != nil {
		close(w.written)
		w.written = nil
	}
	if len(w.subs) == 0 || n == 0 {
		return
	}
	data := bytes.Clone(b.buf[:b.lines[n-1].end])
	start := 0
	for _, l := range b.lines[:n] {
		line := data[start:l.end:l.end]
		start = l.end
		for s := range w.subs {
			select {
			case s.c <- line:
			default:
				// Drop it now, so it sees no later line (a gap), and
				// close C: no one else sends on it once it is out of the set.
				delete(w.subs, s)
				s.finish(ErrFellBehind)
			}
		}
	}
}

func (w *Writer) closeSubscriptions() {
	w.subsMu.Lock()
	subs := make([]*Subscription, 0, len(w.subs))
	for s := range w.subs {
		subs = append(subs, s)
	}
	w.subsMu.Unlock()
	for _, s := range subs {
		s.end(nil)
	}
}
