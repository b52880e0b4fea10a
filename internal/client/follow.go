package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

// Follower follows a sidecar's event stream across restarts of the
// sidecar (docs/cli.md "delete and follow"): when the stream breaks it
// connects again and resumes right after the last event it passed on,
// replaying what was written in between, so that no event is passed on
// twice and none is missed.
type Follower struct {
	Client *Client
	// GiveUp is how long Follow tries to reach a server (at start, and
	// after a break) before it fails; zero means 30 s.
	GiveUp time.Duration
	// Retry is the pause between two attempts; zero means 500 ms.
	Retry time.Duration
	// Notice, when set, hears of each break and reconnection, as one line
	// for a person (stderr).
	Notice func(msg string)
}

// Follow passes each new event matching f to fn, until ctx ends (nil),
// the stream ends at f.Before (nil), fn fails, the server refuses (a 4xx:
// bad token, bad filter), or no server answered for GiveUp. m is where it
// starts: after the events m has taken already (those of a list -f), or,
// when m is empty, at f.Since, else at the server's now. Every event
// passed to fn is taken into m.
func (fl *Follower) Follow(ctx context.Context, f *event.Filter, m *Mark, fn func(line []byte) error) error {
	giveUp, retry := fl.GiveUp, fl.Retry
	if giveUp <= 0 {
		giveUp = 30 * time.Second
	}
	if retry <= 0 {
		retry = 500 * time.Millisecond
	}
	lastAnswer := time.Now()
	pass := func(line []byte) error {
		if !m.Take(line) {
			return nil // printed before the break
		}
		if err := fn(line); err != nil {
			return callerError{err}
		}
		return nil
	}
	broken := false
	for {
		q := *f
		q.Since = m.resumeFrom(f.Since)
		answered := false
		err := fl.Client.stream(ctx, &q, pass, func(resp *http.Response) {
			answered, lastAnswer = true, time.Now()
			if broken && fl.Notice != nil {
				fl.Notice("reconnected; resuming after the last event printed")
			}
			broken = false
			m.connected(resp)
		})
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return nil // ended at before, as asked
		}
		if !retryable(err) {
			var ce callerError
			if errors.As(err, &ce) {
				return ce.err
			}
			return fmt.Errorf("follow events: %w", err)
		}
		if answered && fl.Notice != nil {
			fl.Notice(fmt.Sprintf("the server's stream broke (%v); reconnecting for up to %s", err, giveUp))
		}
		broken = broken || answered
		if time.Since(lastAnswer) >= giveUp {
			return fmt.Errorf("follow events: no server answered for %s: %w", giveUp, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

// callerError is fn's error: never retried.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// errStreamEnded is a stream the server closed before before.
var errStreamEnded = errors.New("the server ended the stream")

// retryable tells a server that went away (connection refused or reset,
// the stream closed, a 5xx from whatever stands in front of it while it
// restarts) from one that refused (4xx) or a caller that failed.
func retryable(err error) bool {
	var ce callerError
	var ae *APIError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ce):
		return false
	case errors.As(err, &ae):
		return ae.Status >= 500
	case errors.Is(err, errStreamEnded), errors.As(err, &ne), errors.As(err, &oe):
		return true
	}
	// A body cut mid-stream (unexpected EOF, connection reset) reads as a
	// plain error from the scanner; a server's "error" message is an
	// errServerSaid.
	var se errServerSaid
	return !errors.As(err, &se)
}

// Mark is the place of a follow: the events passed on so far. One pod
// writes its events in eventTime order, so a pod's stream resumes at the
// latest event passed on from it, skipping the ids passed on at that very
// time; a cluster stream interleaves pods in arrival order, so Mark keeps
// the latest time of each host and resumes at the earliest of them.
type Mark struct {
	floor  time.Time            // nothing older passes: a list -f's oldest row
	latest map[string]time.Time // per host
	seen   map[string]time.Time // ids passed on, at or after Since
	// start is the server's time when the stream connected: where a
	// follow that passed nothing on resumes.
	start time.Time
}

// Take records line as passed on; it reports false when it was already
// (the replay of a resumed stream), when it is older than what was passed
// on from its host or than a list -f's rows, or when it is not an event.
func (m *Mark) Take(line []byte) bool {
	var e event.Event
	if event.Decode(line, &e) != nil {
		return false
	}
	if _, dup := m.seen[e.ID]; dup {
		return false
	}
	if m.latest == nil {
		m.latest, m.seen = map[string]time.Time{}, map[string]time.Time{}
	}
	if last, ok := m.latest[e.Host]; ok && e.Time.Before(last) || e.Time.Before(m.floor) {
		return false
	}
	m.latest[e.Host] = e.Time
	m.seen[e.ID] = e.Time
	if len(m.seen)%1024 == 0 {
		m.forget()
	}
	return true
}

// Listed takes the rows of a list -f, oldest first: they are the newest
// matches, so nothing older than the first of them is passed on after.
func (m *Mark) Listed(line []byte) {
	if m.Take(line) && m.floor.IsZero() {
		var e event.Event
		event.Decode(line, &e)
		m.floor = e.Time
	}
}

// forget drops the ids a resumed stream cannot send again.
func (m *Mark) forget() {
	since := m.Since()
	for id, t := range m.seen {
		if t.Before(since) {
			delete(m.seen, id)
		}
	}
}

// Since is where a follow that has passed on what m took starts (the
// latest time of the host heard from least recently); zero when m took
// nothing.
func (m *Mark) Since() time.Time {
	var since time.Time
	for _, t := range m.latest {
		if since.IsZero() || t.Before(since) {
			since = t
		}
	}
	return since
}

// resumeFrom is where a stream asked for since starts: after what m took,
// else at since (a replay cut before its first event starts again), else
// where the last connection started.
func (m *Mark) resumeFrom(since time.Time) time.Time {
	switch {
	case len(m.latest) > 0:
		if s := m.Since(); s.After(since) {
			return s
		}
		return since
	case !since.IsZero():
		return since
	}
	return m.start
}

// connected notes the server's time at a connection, from its Date
// (whole seconds, rounded down: a resumed stream starts up to a second
// early rather than late), for a follow that has passed nothing on yet.
func (m *Mark) connected(resp *http.Response) {
	if len(m.latest) > 0 || !m.start.IsZero() {
		return
	}
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		m.start = t.UTC()
	} else {
		m.start = time.Now().UTC().Add(-time.Second)
	}
}
