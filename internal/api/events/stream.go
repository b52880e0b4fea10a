package events

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
)

// Stream answers GET /api/v3/events/stream?<filters> with server-sent
// events: one "data: <event JSON>" message per new matching event, a
// ": ping" comment every Heartbeat, and, if the client reads too slowly to
// keep up with the writer, an "event: error" message before the end. It
// ends when the client leaves or Done closes; it leaves no goroutine.
func (h *Handler) Stream(w http.ResponseWriter, r *http.Request) {
	f, err := event.ParseFilter(r.URL.Query())
	if err != nil {
		badParam(w, err)
		return
	}
	buffer := h.StreamBuffer
	if buffer <= 0 {
		buffer = 1024
	}
	beat := h.Heartbeat
	if beat <= 0 {
		beat = 15 * time.Second
	}
	sub := h.Live.Subscribe(buffer)
	defer sub.Close()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // no proxy buffering
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	s := &sse{w: w, rc: rc, lf: event.NewLineFilter(&f)}
	tick := time.NewTicker(beat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.Done:
			return
		case <-tick.C:
			if s.send([]byte(": ping\n\n")) != nil {
				return
			}
		case line, ok := <-sub.C:
			if !ok {
				if errors.Is(sub.Err(), audit.ErrFellBehind) {
					s.send([]byte("event: error\ndata: {\"error\":" + strconv.Quote("fell behind: "+sub.Err().Error()) + "}\n\n"))
				}
				return
			}
			if s.lines(line, sub.C) != nil {
				return
			}
		}
	}
}

// sse writes messages to one stream.
type sse struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	lf  *event.LineFilter
	buf []byte
}

// lines writes line, and those already waiting in c, as one flush.
func (s *sse) lines(line []byte, c <-chan []byte) error {
	s.buf = s.buf[:0]
	for n := 0; ; n++ {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if s.lf.Match(line) == event.Matched {
			s.buf = append(s.buf, "data: "...)
			s.buf = append(s.buf, line...)
			s.buf = append(s.buf, "\n\n"...)
		}
		if n == 64 {
			break
		}
		var ok bool
		select {
		case line, ok = <-c:
		default:
		}
		if !ok {
			break // nothing waiting (a closed c is seen by the caller next)
		}
	}
	if len(s.buf) == 0 {
		return nil
	}
	return s.send(s.buf)
}

func (s *sse) send(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}
