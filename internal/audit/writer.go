// Package audit is the path from an event to the audit file: a bounded
// queue that stamps each event's time as it is queued (so lines are in
// eventTime order), and one goroutine that writes everything queued with one
// write per batch (group commit), then hands the written lines to
// the publisher (webhooks) and wakes the followers of the files.
//
// Guarantees: an event accepted by Emit is written exactly once, whole, in
// queue order, unless the process dies; a write error never crashes
// anything: the batch is kept and retried until the disk takes it.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
)

// File is where lines go: the rotating audit file. Write gets whole lines
// and, on error, must leave nothing of them behind.
type File interface {
	Write(p []byte) (int, error)
	// MaxWrite is the largest write accepted.
	MaxWrite() int
}

// replacementNotifier is a File that tells when it was deleted or replaced
// from outside (*rotate.File): the writer then records
// system.audit.file_replaced itself.
type replacementNotifier interface {
	NotifyReplaced(fn func(reason string))
	Path() string
}

// Options configure a Writer.
type Options struct {
	// File receives the lines. If nil, events are not persisted, only
	// published (the activity tracker is disabled).
	File File
	// Publish, if set, is called from the writer's goroutine with each
	// line written, newline included, in order. It must not block (the
	// webhook dispatcher queues, or drops and counts); the line is its to
	// keep and must not be modified.
	Publish func(line []byte)
	// Queue is how many events may wait to be written; 0 means 10000.
	Queue int
	// Drop, when the queue is full, drops the event (counted) instead of
	// making Emit wait.
	Drop bool
	// Service and Host are stamped on events that have none.
	Service, Host string
	// Metrics is required.
	Metrics *metrics.Metrics
	// IDs gives ids to events that have none; nil means a new event.IDs.
	IDs *event.IDs
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// RetryMin and RetryMax bound the wait between attempts to write a
	// batch the disk refused; 0 means 50ms and 1s.
	RetryMin, RetryMax time.Duration
	// Seal, if set, chains every line written and writes checkpoints
	// (docs/integrity.md "How"): every CheckpointEvery after a line, as the
	// last line of a file before it rotates (File must then be a
	// *rotate.File), and at Close.
	Seal            *integrity.Sealer
	CheckpointEvery time.Duration // 0 means 60s
	// Linger is how long the writer waits, after the first event of a
	// batch arrives, for more to join it (group commit): fewer, larger
	// writes under load, at the cost of events reaching the file (and
	// webhooks) up to Linger later. 0 means 1ms; negative means none.
	Linger time.Duration
}

// lingerBatch is the batch size at which the writer stops lingering.
const lingerBatch = 256

// Errors returned by Emit.
var (
	ErrDropped = errors.New("audit queue full: event dropped")
	ErrClosed  = errors.New("audit writer closed")
)

// maxChunk bounds one write syscall.
const maxChunk = 1 << 20

// Writer queues and writes events. Its methods are safe for concurrent use.
type Writer struct {
	opts   Options
	now    func() time.Time
	ids    *event.IDs
	log    *slog.Logger
	m      *metrics.Metrics
	counts eventCounters
	drops  [2]prometheus.Counter // events_dropped_total by reason, made (and so exported at 0) at start
	pool   sync.Pool             // *[]byte encode buffers

	mu        sync.Mutex
	notFull   *sync.Cond // producers wait here when the queue is full
	notEmpty  *sync.Cond // the writer goroutine waits here
	pending   batch      // queued, not yet taken by the writer goroutine
	spare     batch      // the buffer the writer goroutine last wrote
	last      time.Time  // time stamped on the last queued event
	closed    bool
	dropped   [2]int64 // drops not yet reported by system.audit.dropped, by reason (dropFull, dropWriteError)
	lastDrop  time.Time
	dropTimer *time.Timer // wakes the writer when a drop report falls due, traffic or not

	healthy atomic.Bool
	failing atomic.Bool // the disk refuses writes right now
	abandon atomic.Bool // Close's deadline passed: stop retrying
	lost    atomic.Int64

	writtenMu sync.Mutex
	written   chan struct{} // closed at the next write; see Written

	// What the last write put in the file, in order: lines of the batch
	// and checkpoints, with their counter labels; published and counted.
	rotator   Rotator // File, when it can rotate on demand
	out       [][]byte
	outLabels []uint8
	cpArmed   atomic.Bool // a checkpoint is due (timer running or placeholder queued)

	done chan struct{}
}

// batch is queued lines, back to back, and per line where it ends and
// which events_total counter it belongs to.
type batch struct {
	buf   []byte
	lines []lineMeta
	// forced counts the lines queued past the bound (the writer's own
	// records): they take no client's slot, or a writer that records
	// something at every batch (the live file deleted again and again)
	// would keep a small queue full of its own lines and starve every
	// request.
	forced int
}

type lineMeta struct {
	end   int
	label uint8
}

// New starts a Writer.
func New(opts Options) *Writer {
	if opts.Queue <= 0 {
		opts.Queue = 10000
	}
	if opts.IDs == nil {
		opts.IDs = &event.IDs{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 50 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Second
	}
	if opts.Linger == 0 {
		opts.Linger = time.Millisecond
	}
	w := &Writer{
		opts: opts, now: opts.Now, ids: opts.IDs, log: opts.Logger, m: opts.Metrics,
		counts: newEventCounters(opts.Metrics.Events),
		done:   make(chan struct{}),
	}
	for i, r := range dropReasons {
		w.drops[i] = opts.Metrics.EventsDropped.WithLabelValues(r)
	}
	w.pool.New = func() any { b := make([]byte, 0, 1024); return &b }
	w.notFull = sync.NewCond(&w.mu)
	w.notEmpty = sync.NewCond(&w.mu)
	w.healthy.Store(true)
	opts.Metrics.GaugeFunc("audit_queue_length", "Events waiting to be written to the audit log.",
		func() float64 { return float64(w.QueueLen()) })
	if r, ok := opts.File.(Rotator); ok {
		w.rotator = r
	}
	if n, ok := opts.File.(replacementNotifier); ok {
		n.NotifyReplaced(func(reason string) { w.fileReplaced(reason, n.Path()) })
	}
	go w.run()
	return w
}

// fileReplaced records that the live file was deleted or replaced from
// outside. It may be called from the writer's own goroutine (a write
// found the file gone), which must never wait on its own full queue: the
// event is queued urgently.
func (w *Writer) fileReplaced(reason, path string) {
	w.emitSystem("system.audit.file_replaced", event.LevelError,
		"the live audit file was "+reason+" from outside; it was recreated",
		(&event.Details{}).String("reason", reason).String("path", path).Object())
}

// Healthy reports whether the last write to the audit file succeeded.
func (w *Writer) Healthy() bool { return w.healthy.Load() }

// QueueLen is the number of events waiting to be written.
func (w *Writer) QueueLen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending.lines)
}

// Emit queues e. It sets e.ID (when empty), e.Service and e.Host (when
// empty) and e.Time (always: the moment it is queued, never before the
// previous event's). When the queue is full it waits, or with Drop (and
// always while the disk refuses writes, so a full disk cannot stall
// requests) drops e and returns ErrDropped. Emit does not keep e.
func (w *Writer) Emit(e *event.Event) error {
	return w.emit(e, false)
}

// emitSystem queues a system event even when the queue is full: it comes
// from the writer itself (which must never wait on itself) or reports
// trouble that must not be lost to it.
func (w *Writer) emitSystem(typ, level, message string, details []byte) {
	if err := w.emit(event.NewSystem(typ, level, message, details), true); err != nil && !errors.Is(err, ErrClosed) {
		w.log.Error("queue system event", "type", typ, "err", err)
	}
}

func (w *Writer) emit(e *event.Event, force bool) error {
	return w.emitLabeled(e, force, noLabel)
}

// emitLabeled queues e with label, or the label of its counters when
// label is noLabel.
func (w *Writer) emitLabeled(e *event.Event, force bool, label uint8) error {
	if e.ID == "" {
		e.ID = w.ids.New()
	}
	if e.Service == "" {
		e.Service = w.opts.Service
	}
	if e.Host == "" {
		e.Host = w.opts.Host
	}
	bp := w.pool.Get().(*[]byte)
	defer w.pool.Put(bp)
	line, err := event.AppendJSON((*bp)[:0], e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if len(line) > maxLine {
		line = shrink(line[:0], e)
	}
	*bp = line
	if label == noLabel {
		label = w.counts.index(e)
	}

	w.mu.Lock()
	for !force && !w.closed && len(w.pending.lines)-w.pending.forced >= w.opts.Queue {
		if w.opts.Drop || w.failing.Load() {
			reason := dropFull
			if w.failing.Load() {
				reason = dropWriteError
			}
			w.noteDropLocked(reason)
			w.mu.Unlock()
			w.drops[reason].Inc()
			return ErrDropped
		}
		w.notFull.Wait()
	}
	if w.closed && !force {
		w.mu.Unlock()
		return ErrClosed
	}
	t := w.now()
	if t.Before(w.last) {
		t = w.last // keep lines in eventTime order if the clock steps back
	}
	w.last = t
	e.Time = t
	event.StampTime(line, t)
	w.pending.buf = append(w.pending.buf, line...)
	w.pending.lines = append(w.pending.lines, lineMeta{end: len(w.pending.buf), label: label})
	if force {
		w.pending.forced++
	}
	w.notEmpty.Signal()
	w.mu.Unlock()
	return nil
}

// Why an event was dropped: the label of events_dropped_total.
const (
	dropFull       = 0 // when_full: drop, and the queue was full
	dropWriteError = 1 // the disk refuses writes and the queue is full
)

var dropReasons = [2]string{"queue_full", "write_error"}

func (w *Writer) noteDropLocked(reason int) {
	w.dropped[reason]++
	w.notEmpty.Signal() // let the writer report it
	if w.dropTimer == nil {
		// Reports are at most one a second; the one due later must be
		// written even if no other event comes to wake the writer.
		wait := max(time.Second-w.now().Sub(w.lastDrop), 0)
		w.dropTimer = time.AfterFunc(wait+time.Millisecond, func() {
			w.mu.Lock()
			w.dropTimer = nil
			w.notEmpty.Signal()
			w.mu.Unlock()
		})
	}
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		for len(w.pending.lines) == 0 && !w.closed && !w.dropReportDue() {
			w.notEmpty.Wait()
		}
		if w.dropReportDue() { // before the closed check: the last drops are reported too
			full, failed := w.dropped[dropFull], w.dropped[dropWriteError]
			w.dropped = [2]int64{}
			w.lastDrop = w.now()
			w.mu.Unlock()
			w.emitSystem("system.audit.dropped", event.LevelError, dropMessage(full, failed),
				(&event.Details{}).Int("count", full+failed).Int("queue_full", full).Int("write_error", failed).Object())
			continue
		}
		if len(w.pending.lines) == 0 && w.closed {
			w.mu.Unlock()
			w.finalCheckpoint()
			return
		}
		if w.opts.Linger > 0 && !w.closed && len(w.pending.lines) < lingerBatch {
			w.mu.Unlock()
			time.Sleep(w.opts.Linger)
			w.mu.Lock()
		}
		b := w.pending
		w.pending = w.spare
		w.pending.buf, w.pending.lines, w.pending.forced = w.pending.buf[:0], w.pending.lines[:0], 0
		w.notFull.Broadcast()
		w.mu.Unlock()

		w.write(b)
		w.publish(w.out)
		for _, l := range w.outLabels {
			w.counts.inc(l)
		}
		w.armCheckpoint()

		w.mu.Lock()
		w.spare = b
		w.mu.Unlock()
	}
}

// dropReportDue: drops happened and the last report is over a second old
// (or we are closing, so report now). mu is held.
func (w *Writer) dropReportDue() bool {
	return w.dropped != [2]int64{} && (w.closed || w.now().Sub(w.lastDrop) >= time.Second)
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

// write writes b, retrying while the disk refuses, in chunks that end at
// line ends and fit both maxChunk and the file's limit; with a Seal, it
// chains each line and writes the checkpoints that fall due. What reached
// the file is left in w.out and w.outLabels: all of it, unless Close gave
// up on a failing disk.
func (w *Writer) write(b batch) {
	w.out, w.outLabels = w.out[:0], w.outLabels[:0]
	if w.opts.File == nil {
		start := 0
		for _, l := range b.lines {
			if l.label != labelCheckpoint {
				w.out, w.outLabels = append(w.out, b.buf[start:l.end]), append(w.outLabels, l.label)
			}
			start = l.end
		}
		return
	}
	if w.opts.Seal != nil {
		w.opts.Seal.Lock()
		defer w.opts.Seal.Unlock()
	}
	c := chunker{w: w, b: b, limit: min(maxChunk, w.opts.File.MaxWrite())}
	lineStart := 0
	for i, l := range b.lines {
		line := b.buf[lineStart:l.end]
		lineStart = l.end
		if l.label == labelCheckpoint {
			// A checkpoint fell due (CheckpointEvery): its placeholder,
			// stamped in queue order, becomes the checkpoint here.
			if !c.flush() || !w.checkpoint(line) {
				w.giveUp(b, c.first(i))
				return
			}
			w.cpArmed.Store(false)
			c.skip(l.end)
			continue
		}
		if w.rotationDue(c.bytes() + len(line)) {
			// The next line goes to a new file: seal this one first, with
			// the time of that line (no line before has a later one).
			if !c.flush() || !w.checkpoint(line) {
				w.giveUp(b, c.first(i))
				return
			}
			if err := w.rotator.Rotate(); err != nil {
				w.log.Error("rotate audit file after its checkpoint", "err", err)
			}
			c.skip(l.end - len(line))
		}
		if c.bytes() > 0 && c.bytes()+len(line) > c.limit {
			if !c.flush() {
				w.giveUp(b, c.first(i))
				return
			}
		}
		if w.opts.Seal != nil {
			w.opts.Seal.Line(line)
		}
		c.add(l)
	}
	if !c.flush() {
		w.giveUp(b, c.first(len(b.lines)))
	}
}

// chunker gathers consecutive lines of a batch into one write.
type chunker struct {
	w          *Writer
	b          batch
	limit      int
	start, end int     // bytes of b.buf in the chunk
	labels     []uint8 // its lines' labels
	ends       []int
}

func (c *chunker) bytes() int { return c.end - c.start }

// first is the index of the chunk's first line, i being the next line's.
func (c *chunker) first(i int) int { return i - len(c.ends) }

func (c *chunker) add(l lineMeta) {
	c.end = l.end // the chunk starts where the last one (or a skip) ended
	c.ends = append(c.ends, l.end)
	c.labels = append(c.labels, l.label)
}

// skip starts the next chunk at off (after a placeholder, or at a line
// that goes to a new file).
func (c *chunker) skip(off int) { c.start, c.end = off, off }

// flush writes the chunk; false when Close gave up.
func (c *chunker) flush() bool {
	if c.end == c.start {
		return true
	}
	if !c.w.writeChunk(c.b.buf[c.start:c.end]) {
		return false
	}
	start := c.start
	for i, end := range c.ends {
		c.w.out = append(c.w.out, c.b.buf[start:end])
		c.w.outLabels = append(c.w.outLabels, c.labels[i])
		start = end
	}
	c.start, c.ends, c.labels = c.end, c.ends[:0], c.labels[:0]
	return true
}

// giveUp counts the lines from i on as lost (Close's deadline passed
// while the disk refused writes).
func (w *Writer) giveUp(b batch, i int) {
	lost := 0
	for _, l := range b.lines[i:] {
		if l.label != labelCheckpoint {
			lost++
		}
	}
	w.lost.Add(int64(lost))
	w.log.Error("audit log still refuses writes at shutdown; events lost", "events", lost)
}

// writeChunk writes p, retrying until it is written (true) or Close gives
// up (false).
func (w *Writer) writeChunk(p []byte) bool {
	delay := w.opts.RetryMin
	for attempt := 0; ; attempt++ {
		_, err := w.opts.File.Write(p)
		if err == nil {
			w.m.AuditBytesWritten.Add(float64(len(p)))
			if w.failing.Swap(false) {
				w.log.Info("audit log writable again", "attempts", attempt+1)
				w.emitSystem("system.audit.write_recovered", event.LevelInfo, "audit log writable again", nil)
			}
			w.healthy.Store(true)
			return true
		}
		w.m.AuditWriteErrors.Inc()
		w.healthy.Store(false)
		if !w.failing.Swap(true) {
			w.log.Error("write audit log; retrying", "err", err)
			w.emitSystem("system.audit.write_failed", event.LevelError, "write audit log: "+err.Error(), nil)
		}
		if w.abandon.Load() {
			return false
		}
		time.Sleep(delay)
		delay = min(2*delay, w.opts.RetryMax)
	}
}

// Close stops taking events, writes everything queued and stops. If ctx
// ends first while the disk refuses writes, what is left is counted as lost
// and an error says how many.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		w.notFull.Broadcast()
		w.notEmpty.Broadcast()
	}
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		w.abandon.Store(true)
		<-w.done
	}
	if n := w.lost.Load(); n > 0 {
		return fmt.Errorf("close audit writer: %d events could not be written", n)
	}
	return nil
}

// eventCounters are the events_total children, resolved once so that
// counting a written line is an array index.
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

func (c *eventCounters) index(e *event.Event) uint8 {
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

func (c *eventCounters) inc(i uint8) { c[i].Inc() }
