package audit

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
)

// retryingFile is the File as the writer sees it when the disk refuses
// writes (on_write_error): a refused write is retried, with backoff, until
// the disk takes it or Close gives up. Meanwhile the writer is unhealthy
// (with on_write_error: fail_closed, tracked requests get 503) and a full
// queue drops instead of blocking (queue.push).
//
// Contract of write: true means p is in the file, whole, once; false comes
// only after giveUp, and then nothing of p is in the file (File's own
// contract on error), so no line is ever torn or written twice.
type retryingFile struct {
	file               File
	retryMin, retryMax time.Duration
	m                  *metrics.Metrics
	log                *slog.Logger
	// report queues a system event from the writer's goroutine; it must
	// never wait on the queue (it forces past the bound).
	report func(typ, level, message string)

	failing   atomic.Bool // the last write was refused; Healthy is its negation
	abandoned atomic.Bool // Close's deadline passed: stop retrying
	lost      atomic.Int64
}

// write writes p, retrying while the disk refuses it; see the contract
// above. It records system.audit.write_failed when the disk starts
// refusing and system.audit.write_recovered when it takes a write again.
func (f *retryingFile) write(p []byte) bool {
	delay := f.retryMin
	for attempt := 0; ; attempt++ {
		_, err := f.file.Write(p)
		if err == nil {
			f.m.AuditBytesWritten.Add(float64(len(p)))
			if f.failing.Swap(false) {
				f.log.Info("audit log writable again", "attempts", attempt+1)
				f.report("system.audit.write_recovered", event.LevelInfo, "audit log writable again")
			}
			return true
		}
		f.m.AuditWriteErrors.Inc()
		if !f.failing.Swap(true) {
			f.log.Error("write audit log; retrying", "err", err)
			f.report("system.audit.write_failed", event.LevelError, "write audit log: "+err.Error())
		}
		if f.abandoned.Load() {
			return false
		}
		time.Sleep(delay)
		delay = min(2*delay, f.retryMax)
	}
}

// healthy reports whether the last write succeeded (true before any).
func (f *retryingFile) healthy() bool { return !f.failing.Load() }

// refusing reports whether the disk refuses writes right now.
func (f *retryingFile) refusing() bool { return f.failing.Load() }

// giveUp makes write stop retrying: Close's deadline passed. Every write
// from now on is tried once.
func (f *retryingFile) giveUp() { f.abandoned.Store(true) }

// lose counts the events of lines as lost: they were never written, since
// Close gave up on a disk that refused them.
func (f *retryingFile) lose(lines []lineMeta) {
	n := 0
	for _, l := range lines {
		if !isPlaceholder(l.label) {
			n++
		}
	}
	f.lost.Add(int64(n))
	f.log.Error("audit log still refuses writes at shutdown; events lost", "events", n)
}
