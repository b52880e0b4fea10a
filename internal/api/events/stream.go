package events

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// Stream answers GET /api/v3/events/stream?<filters> with server-sent
// events: one "data: <event JSON>" message per new matching event, and a
// ": ping" comment every Heartbeat. With since, it first sends the matching
// events from that time on (rotated files included), then follows. The
// events come from the files, through the store's follower, so a slow
// client misses nothing: it reads at its own pace, bounded by the write
// deadline. It ends when the client leaves or Done closes; it leaves no
// goroutine.
func (h *Handler) Stream(w http.ResponseWriter, r *http.Request) {
	f, err := event.ParseFilter(r.URL.Query())
	if err != nil {
		badParam(w, err)
		return
	}
	scope, ok := h.scope(w, r)
	if !ok {
		return
	}
	beat := h.Heartbeat
	if beat <= 0 {
		beat = 15 * time.Second
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // no proxy buffering
	defer rc.SetWriteDeadline(time.Time{})    // the connection may serve other requests
	s := &sse{w: w, rc: rc, beat: beat}
	if scope == ScopeCluster {
		h.streamCluster(w, r, f, s)
		return
	}
	// The filter's since is where the stream starts (a replay); its
	// before is where it ends.
	from := f.Since
	f.Since = time.Time{}
	err = h.Store.FollowEvents(r.Context(), &f, store.FollowOptions{
		Since: from, Until: f.Before, Poll: h.Poll, Wake: h.Wake, Done: h.Done, Tick: s.tick,
	}, s.event)
	switch {
	case !s.started && err != nil:
		h.internalError(w, r, err)
	case err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrShutdown):
		h.logger().Debug("event stream ended", "err", err)
	}
}

// sse writes messages to one stream, flushing after each pass of the
// follower. The answer starts at the first pass, once the follower has
// found its place: an event written after the client got the headers is
// always sent.
type sse struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	beat     time.Duration
	buf      []byte
	lastSent time.Time
	started  bool
}

func (s *sse) event(line []byte) error {
	if !s.started { // the replay of a since before the first pass ends
		if err := s.tick(); err != nil {
			return err
		}
	}
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, line...)
	s.buf = append(s.buf, "\n\n"...)
	if len(s.buf) >= 64<<10 {
		return s.flush()
	}
	return nil
}

// tick sends what the pass found, or a ping when nothing was sent for a
// heartbeat.
func (s *sse) tick() error {
	if !s.started {
		s.started, s.lastSent = true, time.Now()
		s.w.WriteHeader(http.StatusOK)
		if err := s.rc.Flush(); err != nil {
			return err
		}
	}
	if len(s.buf) == 0 && time.Since(s.lastSent) >= s.beat {
		s.buf = append(s.buf, ": ping\n\n"...)
	}
	return s.flush()
}

func (s *sse) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	s.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := s.w.Write(s.buf)
	if err == nil {
		err = s.rc.Flush()
	}
	s.buf, s.lastSent = s.buf[:0], time.Now()
	return err
}
