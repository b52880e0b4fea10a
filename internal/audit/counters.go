package audit

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/event"
)

// eventCounters are the events_total children, resolved once so that
// counting a written line is an array index: its label, eventLabel.
type eventCounters [16]prometheus.Counter

var (
	typeNames    = [4]string{event.TypeHTTP, event.TypeClient, event.TypeNotification, "system"}
	levelNames   = [2]string{event.LevelInfo, event.LevelError}
	outcomeNames = [2]string{event.OutcomeSuccess, event.OutcomeFailure}
)

func newEventCounters(vec *prometheus.CounterVec) eventCounters {
	var c eventCounters
	for t, tn := range typeNames {
		for l, ln := range levelNames {
			for o, on := range outcomeNames {
				c[t<<2|l<<1|o] = vec.WithLabelValues(tn, ln, on)
			}
		}
	}
	return c
}

// eventLabel is the index of e's counter: type, level and outcome, with
// every system type folded to system.
func eventLabel(e *event.Event) uint8 {
	var t uint8
	switch e.Type {
	case event.TypeHTTP:
		t = 0
	case event.TypeClient:
		t = 1
	case event.TypeNotification:
		t = 2
	default:
		t = 3
	}
	var l, o uint8
	if e.Level == event.LevelError {
		l = 1
	}
	if e.Outcome == event.OutcomeFailure {
		o = 1
	}
	return t<<2 | l<<1 | o
}

func (c *eventCounters) inc(label uint8) { c[label].Inc() }
