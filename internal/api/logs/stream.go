package logs

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"time"
)

// streamWriter buffers a follow stream's lines and flushes them to the
// client, each write bounded by a deadline so that a client that stopped
// reading is dropped instead of holding the stream forever.
type streamWriter struct {
	bw       *bufio.Writer
	rc       *http.ResponseController
	timeout  time.Duration
	extended time.Time // when the deadline was last pushed back
	pending  bool      // written since the last flush
}

func newStreamWriter(w http.ResponseWriter, timeout time.Duration) *streamWriter {
	return &streamWriter{bw: bufio.NewWriterSize(w, 32<<10), rc: http.NewResponseController(w), timeout: timeout}
}

// extend pushes the write deadline back, at most once a second.
func (s *streamWriter) extend() {
	if now := time.Now(); now.Sub(s.extended) >= time.Second {
		s.rc.SetWriteDeadline(now.Add(s.timeout))
		s.extended = now
	}
}

func (s *streamWriter) line(text string) error {
	s.extend()
	s.pending = true
	s.bw.WriteString(text)
	return s.bw.WriteByte('\n')
}

func (s *streamWriter) copyFrom(r io.Reader) error {
	s.extend()
	s.pending = true
	if _, err := s.bw.ReadFrom(r); err != nil {
		return err
	}
	return s.flush()
}

func (s *streamWriter) flush() error {
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
