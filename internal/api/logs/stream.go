package logs

import (
	"bufio"
	"errors"
	"net/http"
	"time"
)

// streamWriter buffers a follow stream's lines and flushes them to the
// client, each write bounded by a deadline so that a client that stopped
// reading is dropped instead of holding the stream forever.
//
// The answer's status is sent with the first line or flush, once the
// follower has found its place, so a line appended after the client got
// the headers is always sent, and a follow that fails to start can still
// answer an error.
type streamWriter struct {
	w        http.ResponseWriter
	started  bool
	bw       *bufio.Writer
	rc       *http.ResponseController
	timeout  time.Duration
	extended time.Time // when the deadline was last pushed back
	pending  bool      // written since the last flush
}

func newStreamWriter(w http.ResponseWriter, timeout time.Duration) *streamWriter {
	return &streamWriter{w: w, bw: bufio.NewWriterSize(w, 32<<10), rc: http.NewResponseController(w), timeout: timeout}
}

// extend pushes the write deadline back, at most once a second.
func (s *streamWriter) extend() {
	if now := time.Now(); now.Sub(s.extended) >= time.Second {
		s.rc.SetWriteDeadline(now.Add(s.timeout))
		s.extended = now
	}
}

// line writes one line; it reaches the client at the next flush (or
// sooner, when the buffer fills).
func (s *streamWriter) line(text []byte) error {
	s.begin()
	s.extend()
	s.pending = true
	s.bw.Write(text)
	return s.bw.WriteByte('\n')
}

// begin sends the status and headers, once.
func (s *streamWriter) begin() {
	if !s.started {
		s.started, s.pending = true, true
		s.w.WriteHeader(http.StatusOK)
	}
}

func (s *streamWriter) flush() error {
	s.begin()
	if !s.pending {
		return nil
	}
	s.pending = false
	s.extend()
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// close lifts the deadline, so that it cannot hit a later request on the
// same connection.
func (s *streamWriter) close() {
	if !s.extended.IsZero() {
		s.rc.SetWriteDeadline(time.Time{})
	}
}
