package audit

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
)

// Why an event was dropped: the label of events_dropped_total.
const (
	dropFull       = 0 // when_full: drop, and the queue was full
	dropWriteError = 1 // the disk refuses writes and the queue is full
)

var dropReasons = [2]string{"queue_full", "write_error"}

// dropTally is what the queue knows of the events it dropped, until the
// writer records them in system.audit.dropped: at most one record a
// second, and the last one is written even if no event follows to wake
// the writer. Its fields are guarded by queue.mu.
type dropTally struct {
	// counters are events_dropped_total by reason, made at start so that
	// they are exported at 0.
	counters   [2]prometheus.Counter
	unreported [2]int64 // by reason (dropFull, dropWriteError)
	lastReport time.Time
	timer      *time.Timer // wakes the writer when a report falls due, traffic or not
}

func newDropTally(m *metrics.Metrics) dropTally {
	var d dropTally
	for i, r := range dropReasons {
		d.counters[i] = m.EventsDropped.WithLabelValues(r)
	}
	return d
}

// noteDropLocked counts a drop and makes sure the writer reports it.
func (q *queue) noteDropLocked(reason int) {
	d := &q.drops
	d.unreported[reason]++
	q.notEmpty.Signal() // let the writer report it
	if d.timer == nil {
		// Reports are at most one a second; the one due later must be
		// written even if no other event comes to wake the writer.
		wait := max(time.Second-q.now().Sub(d.lastReport), 0)
		d.timer = time.AfterFunc(wait+time.Millisecond, func() {
			q.mu.Lock()
			d.timer = nil
			q.notEmpty.Signal()
			q.mu.Unlock()
		})
	}
}

// dropReportDueLocked: drops happened and the last report is over a
// second old (or the queue is closing, so report now).
func (q *queue) dropReportDueLocked() bool {
	d := &q.drops
	return d.unreported != [2]int64{} && (q.closed || q.now().Sub(d.lastReport) >= time.Second)
}

// takeDropsLocked hands the drops not yet reported to the writer, which
// reports them now.
func (q *queue) takeDropsLocked() [2]int64 {
	d := &q.drops
	dropped := d.unreported
	d.unreported = [2]int64{}
	d.lastReport = q.now()
	return dropped
}

// reportDrops records system.audit.dropped. It runs on the writer's
// goroutine, so the record is forced past the bound.
func (w *Writer) reportDrops(dropped [2]int64) {
	full, failed := dropped[dropFull], dropped[dropWriteError]
	w.emitSystem("system.audit.dropped", event.LevelError, dropMessage(full, failed),
		(&event.Details{}).Int("count", full+failed).Int("queue_full", full).Int("write_error", failed).Object())
}

func dropMessage(full, failed int64) string {
	switch {
	case failed == 0:
		return fmt.Sprintf("%d events dropped: audit queue full (when_full: drop)", full)
	case full == 0:
		return fmt.Sprintf("%d events dropped: the audit log refuses writes and the queue is full", failed)
	}
	return fmt.Sprintf("%d events dropped: %d with the audit queue full, %d while the audit log refused writes", full+failed, full, failed)
}
